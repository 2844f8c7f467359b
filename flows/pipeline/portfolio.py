"""The portfolio model, derived again after every load: disposals, holdings and returns.

Everything is computed from the facts the warehouse holds (``position_events``, the
account summaries, ``external_flows``), so a run, an import and a rebuild all leave the
same model. The tables are replaced in one transaction: a failure leaves the previous
model and the committed facts as they were, and is told in one line. Disposals and
holdings are derived again only when their inputs changed (the events, the wrappers, the
version): their fingerprint is kept as the model's cursor, next to the rows it describes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from flows.pipeline.results import stopped_earlier
from transforms.frames import to_arrow
from transforms.portfolio import Event, compute_returns, derive_portfolio_tables, events_from_rows
from warehouse import GLOBAL_ACCOUNT, Warehouse
from warehouse.merge import Load

log = logging.getLogger("t212_etl")

RESOURCE = "portfolio"  # its load_state row: when the model was last derived
KEEP = object()  # leave the stored base currency as it is
# DuckDB reserves memory per hash join whatever the rows; position_events joins fills to
# orders, instruments and taxes, which a very small memory limit cannot hold at once
MEMORY_FLOOR = 64 * 2**20
EVENT_BATCH = 20_000
# unsorted: DuckDB's sort takes more memory than the run allows it on a small limit, and
# the rows are sorted below anyway
_EVENTS = """
    SELECT "account_id", "event_id", "at", "instrument", "ticker", "isin", "kind",
           "quantity", "value", "fees", "currency", "ratio", "broker_result"
    FROM "position_events"
"""
# every valuation at its own instant: returns link sub-periods between them
_VALUES = """
    SELECT "account_id", "snapshot_at", "total_value", "currency" FROM "account_summaries"
    WHERE "total_value" IS NOT NULL ORDER BY "account_id", "snapshot_at"
"""
WRAPPER_SETTING = "wrapper:"  # + account id: that account's tax wrapper (``settings``)
_WRAPPERS = f"""
    SELECT CAST(substr("name", {len(WRAPPER_SETTING) + 1}) AS BIGINT), "value" FROM "settings"
    WHERE starts_with("name", '{WRAPPER_SETTING}')
"""
# what disposals and holdings are derived from, in one value: any change of an event changes it
_EVENTS_FINGERPRINT = """
    SELECT count(*), coalesce(bit_xor(hash("account_id", "event_id", "at", "instrument",
           "ticker", "isin", "kind", "quantity", "value", "fees", "currency", "ratio",
           "broker_result")), 0)
    FROM "position_events"
"""
_DERIVED = ("disposals", "holding_changes")
_FLOWS = """
    SELECT "account_id", "at", sum("amount") FROM "external_flows"
    GROUP BY ALL ORDER BY ALL
"""


def _order(event: Event) -> tuple:
    """Per account and instrument in time; a split first among events of its instant."""
    return (event.account_id, event.instrument, event.at, event.kind != "split", event.event_id)


def read_events(wh: Warehouse) -> list[Event]:
    """Every position event, in the order the engine applies them.

    Read in batches, each turned into events before the next: the rows as dicts would
    hold several times the memory of the events.
    """
    events: list[Event] = []
    with wh.memory_at_least(MEMORY_FLOOR):
        reader = wh.connection.sql(_EVENTS).to_arrow_reader(EVENT_BATCH)
        for batch in reader:
            events += events_from_rows(batch.to_pylist())
    events.sort(key=_order)
    return events


def _engine_version() -> str:
    try:
        return version("t212-etl")
    except PackageNotFoundError:  # run from a source tree
        return "source"


def inputs_fingerprint(wh: Warehouse, wrappers: Mapping[int, str]) -> str:
    """One digest of what disposals and holdings are derived from."""
    with wh.memory_at_least(MEMORY_FLOOR):
        events = wh.fetch(_EVENTS_FINGERPRINT)[0]
    text = json.dumps([list(events), sorted(wrappers.items()), _engine_version()])
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_model(wh: Warehouse, fingerprint: str) -> dict[str, int] | None:
    """The row counts of the stored disposals and holdings when they were derived from
    these inputs and are still as written (a rebuild or a failed run may have replaced
    them); None when they must be derived again."""
    cursor = (wh.get_state(GLOBAL_ACCOUNT, RESOURCE) or {}).get("cursor") or {}
    rows = cursor.get("rows")
    if cursor.get("inputs") != fingerprint or not isinstance(rows, dict):
        return None
    if set(rows) != set(_DERIVED) or any(wh.count_rows(n) != rows[n] for n in _DERIVED):
        return None
    return rows


def refresh_portfolio(wh: Warehouse, *, run_id: str, loaded_at: datetime) -> dict[str, int]:
    """Derive the portfolio tables from the warehouse's facts and replace them; the row
    counts of the tables written.

    Disposals and holdings stay as they are when their inputs are unchanged since they
    were derived; returns, which also read the account values, are derived every time.
    """
    started = time.monotonic()
    con = wh.connection
    wrappers = dict(con.execute(_WRAPPERS).fetchall())
    fingerprint = inputs_fingerprint(wh, wrappers)
    rows = _stored_model(wh, fingerprint)
    tables, count = {}, "unchanged"
    load = Load(RESOURCE, GLOBAL_ACCOUNT, run_id, loaded_at)
    if rows is not None:  # the same rows, as if derived again: as new as this derivation
        wh.restamp(load, _DERIVED)
    else:
        events = read_events(wh)
        tables = derive_portfolio_tables(events, wrappers=wrappers)
        count = str(len(events))
        del events
        rows = {name: tables[name].num_rows for name in _DERIVED}
    returns = compute_returns(con.execute(_VALUES).fetchall(), con.execute(_FLOWS).fetchall())
    tables["returns"] = to_arrow(returns, "returns")
    wh.merge_resource(load, tables, {"inputs": fingerprint, "rows": rows})
    written = {name: table.num_rows for name, table in tables.items()}
    log.info(
        "portfolio model: %s events -> %s in %.1f s",
        count,
        ", ".join(f"{n} {name}" for name, n in written.items()),
        time.monotonic() - started,
    )
    return written


def refresh_portfolio_step(
    wh: Warehouse,
    *,
    run_id: str,
    loaded_at: datetime,
    base_currency: object = KEEP,
    wrappers: Mapping[int, str] | None = None,
) -> list[str]:
    """Store ``base_currency`` for the views' converted columns (None: none; by default
    the stored one stays) and the accounts' tax ``wrappers`` (by account id; accounts not
    named keep theirs), then :func:`refresh_portfolio`; a failure turned into the one line
    a run reports."""
    try:
        if base_currency is not KEEP:
            wh.write_setting("base_currency", base_currency)  # type: ignore[arg-type]
        for account_id, wrapper in (wrappers or {}).items():
            wh.write_setting(f"{WRAPPER_SETTING}{account_id}", wrapper)
        refresh_portfolio(wh, run_id=run_id, loaded_at=loaded_at)
    except Exception as exc:  # any failure: the facts stay committed, the old model stays
        if stopped_earlier(exc):
            return []  # the write that stopped the database reports the cause itself
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.error("portfolio model not derived: %s", reason)
        return [
            f"the portfolio model could not be derived ({reason}); the exported data is "
            "committed, and the previous model stays until a run derives it"
        ]
    return []
