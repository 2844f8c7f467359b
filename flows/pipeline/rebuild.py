"""Rebuild DuckDB and Parquet from the raw zone alone: no API calls, the same tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from extractors.resources import RESOURCES, Kind, Resource
from flows.pipeline.context import new_run_id
from flows.pipeline.history import replay_history
from flows.pipeline.landing import SHARED_RAW_ACCOUNT
from flows.pipeline.merging import load_of, merge_normalised
from flows.pipeline.normalisers import normalise_pages
from flows.pipeline.portfolio import refresh_portfolio
from flows.pipeline.reports import page_data
from flows.pipeline.resource import new_cursor
from warehouse import GLOBAL_ACCOUNT, Warehouse, raw
from warehouse.publisher import LocalParquet
from warehouse.rebuild import clear_table, rebuilding

if TYPE_CHECKING:
    from warehouse.publisher import Publisher

log = logging.getLogger("t212_etl")


class RebuildRefused(ValueError):
    """The rebuild stopped and changed nothing (one line saying what to do; exit code 2)."""


def replay_stale(wh: Warehouse) -> None:
    """Read again from the raw zone the tables an upgrade re-keyed (``replay_needed``)."""
    for name in sorted(wh.replay_needed):
        resources = [r for r in RESOURCES.values() if name in r.tables]
        log.warning("%s: keys changed in this version; reading it again from the raw zone", name)
        clear_table(wh, name)
        for run in raw.iter_runs(wh.data_dir):
            resource = RESOURCES.get(run.resource)
            if resource in resources:
                replay_run(wh, resource, run)
    wh.replay_needed.clear()


def replay_run(wh: Warehouse, resource: Resource, run: raw.RawRun) -> None:
    """Merge one landed run again, as its export merged it."""
    account_id = GLOBAL_ACCOUNT if run.account == SHARED_RAW_ACCOUNT else int(run.account)
    if resource.kind == Kind.HISTORY:
        replay_history(wh, resource, account_id, run)
        return
    datas = [page_data(resource, p.request_path, p.body) for p in raw.iter_pages(run)]
    state = wh.get_state(account_id, resource.name)
    merge_normalised(
        wh,
        load_of(resource, account_id, run.run_id, run.started_at),
        normalise_pages(resource, datas, account_id, run.started_at),
        new_cursor(resource, datas, state, run.started_at),
    )


def rebuild(
    data_dir: Path, *, lock_timeout: float = 0.0, publisher: Publisher | None = None
) -> dict[str, int]:
    """Replay every complete landed run in order; returns how many runs per resource.

    The runs are replayed into a new database beside the working one, which replaces it
    only once every run is in; then Parquet and the published copy are rewritten, a file
    at a time by rename, so readers see the old tables until they see the new ones.
    A landed page that cannot be read stops the rebuild (:class:`RebuildRefused`, naming
    the file) before anything changed: a rebuild without some rows would be published
    by every later run. After a crash the next command finds the old warehouse, or the
    new one with its publishing still pending, which that command completes.

    The ``publisher`` (local Parquet unless given) fetches first the raw runs it holds
    and the disk lacks (a fresh machine rebuilds from a lake), holds the accounts
    throughout (a lake's leases), and has the tables republished.
    """
    replayed: dict[str, int] = {}
    now, last = datetime.now(UTC), None
    publisher = publisher or LocalParquet(data_dir)
    accounts = publisher.fetch_raw(Path(data_dir) / raw.RAW_DIR)
    with (
        publisher.held(accounts),
        Warehouse.open(data_dir, lock_timeout=lock_timeout, views=False, publisher=publisher) as wh,
    ):
        try:
            with rebuilding(wh) as built:
                for run in raw.iter_runs(data_dir):
                    resource = RESOURCES.get(run.resource)
                    if resource is None:
                        log.warning("raw zone: unknown resource %s skipped", run.resource)
                        continue
                    replay_run(built, resource, run)
                    replayed[resource.name] = replayed.get(resource.name, 0) + 1
                    last = run
                # rows the lake has and the raw zone lacks (none, unless an upload failed)
                built.catch_up(accounts)
                # derived as the last replayed run derived it, so the rebuild changes nothing
                run_id, at = (last.run_id, last.started_at) if last else (new_run_id(now), now)
                refresh_portfolio(built, run_id=run_id, loaded_at=at)
        except raw.UnreadablePage as exc:
            raise RebuildRefused(
                f"{exc}; the rebuild stopped and nothing changed: restore the file from a "
                f"backup, or move its run {exc.path.parent} out of the data directory to "
                "rebuild without that run"
            ) from None
        wh.publish()
    return replayed
