"""Merging a resource's normalised rows with its cursor, and publishing Parquet soon after."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from extractors.resources import Resource
from transforms.frames import Normalised, to_arrow
from warehouse import GLOBAL_ACCOUNT, MergeCounts, Warehouse
from warehouse.merge import Load

log = logging.getLogger("t212_etl")
# a resource's changes are published at most this long after the previous publish
PUBLISH_EVERY = 5.0


def load_of(resource: Resource, account_id: int, run_id: str, loaded_at: datetime) -> Load:
    """What a run loads of ``resource`` for ``account_id``: a list no account owns is
    stored under the global account."""
    scope = account_id if resource.account_scoped else GLOBAL_ACCOUNT
    return Load(resource.name, scope, run_id, loaded_at)


def merge_normalised(
    wh: Warehouse, load: Load, result: Normalised, cursor: dict | None
) -> dict[str, MergeCounts]:
    """Merge one resource's frames and its cursor in one transaction, then publish Parquet."""
    tables = {name: to_arrow(frame, name) for name, frame in result.frames.items()}
    counts = wh.merge_resource(load, tables, cursor)
    publish_parquet_safely(wh)
    return counts


def publish_parquet_safely(wh: Warehouse) -> str | None:
    """Publish pending Parquet partitions; on a write error (a full disk) they stay pending.

    The merge is already committed, so the resource succeeded; the run publishes again
    at its end and reports a failure that persists. Returns the error, if any. Within
    ``PUBLISH_EVERY`` seconds of the last publish the partitions wait for the next one:
    many accounts at once would otherwise publish after every resource of every account,
    one after the other under the warehouse lock (and, with a lake, one commit each).
    Nor does a merge wait for a publish under way (the run's repair, another account's):
    its rows go with the next.
    """
    if time.monotonic() - wh.published_at < PUBLISH_EVERY:
        return None  # published moments ago: the next publish, at the latest the run's, takes it
    if wh.publisher.down is not None:
        return wh.publisher.down  # the store stopped answering: the run's end tries once more
    try:
        wh.publish_parquet(wait=False)
    except OSError as exc:
        log.warning("Parquet not published yet (%s); it stays pending for the next attempt", exc)
        return str(exc)
    return None
