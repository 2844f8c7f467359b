"""The portfolio model: disposals by every method and daily holdings, derived from events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import pyarrow as pa

from transforms.catalogue import table
from transforms.frames import empty_frame, frame_columns, to_arrow
from transforms.portfolio.events import Event, positions
from transforms.portfolio.gains import Disposal, fifo_position
from transforms.portfolio.holdings import HoldingChange, track_position
from transforms.portfolio.matching import uk_position

CHUNK_ROWS = 50_000  # rows turned to Arrow at a time
# tax wrappers: a taxable Invest account, or a Stocks ISA whose gains are free of CGT
WRAPPERS = ("invest", "isa")
DEFAULT_WRAPPER = "invest"
# a disposal row: the engine's figures and the account's wrapper
DISPOSAL_FIELDS = (*Disposal._fields, "wrapper")


def derive_portfolio(
    events: Iterable[Event], wrappers: Mapping[int, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Disposals (methods ``average``, ``fifo`` and ``uk``) and holding changes of ``events``.

    ``wrappers``: each account's tax wrapper, :data:`DEFAULT_WRAPPER` where not given.

    Returns the frames of tables ``disposals`` and ``holding_changes``: the declared columns
    in declared order without load metadata, typed as every normalised frame (decimals as
    ``Decimal`` objects, dates as ``date`` objects, timestamps in UTC). Rows come position
    by position (account, then instrument), each method's rows in time order.
    """
    disposals: list[tuple] = []
    changes: list[tuple] = []
    # kept as plain tuples: the cycle collector stops tracking those, while it would walk
    # every named tuple again at each full collection (a third of the time on large inputs)
    for position in positions(events):
        sold, held = track_position(position)
        disposals += _disposal_rows(position, sold, wrappers)
        changes += map(tuple, held)
    return {
        "disposals": rows_frame("disposals", DISPOSAL_FIELDS, disposals),
        "holding_changes": rows_frame("holding_changes", HoldingChange._fields, changes),
    }


def derive_portfolio_tables(
    events: Iterable[Event],
    *,
    wrappers: Mapping[int, str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, pa.Table]:
    """:func:`derive_portfolio` as Arrow tables, turned to Arrow ``chunk_rows`` rows at a time.

    The rows of a long history as Python objects would hold several times their Arrow size.
    """
    fields = {"disposals": DISPOSAL_FIELDS, "holding_changes": HoldingChange._fields}
    pending: dict[str, list[tuple]] = {name: [] for name in fields}
    done: dict[str, list[pa.Table]] = {name: [] for name in fields}

    def flush(name: str) -> None:
        done[name].append(to_arrow(rows_frame(name, fields[name], pending[name]), name))
        pending[name] = []

    for position in positions(events):
        sold, held = track_position(position)
        pending["disposals"] += _disposal_rows(position, sold, wrappers)
        pending["holding_changes"] += map(tuple, held)
        for name in fields:
            if len(pending[name]) >= chunk_rows:
                flush(name)
    for name in fields:
        if pending[name] or not done[name]:
            flush(name)
    return {name: pa.concat_tables(tables) for name, tables in done.items()}


def _disposal_rows(
    position: Sequence[Event], sold: list[Disposal], wrappers: Mapping[int, str] | None
) -> list[tuple]:
    """The disposals of one position by every method, each with the account's wrapper."""
    if not position:
        return []
    wrapper = (wrappers or {}).get(position[0].account_id, DEFAULT_WRAPPER)
    rows = [*sold, *fifo_position(position), *uk_position(position)]
    return [(*row, wrapper) for row in rows]


def rows_frame(name: str, fields: Sequence[str], rows: Sequence[tuple]) -> pd.DataFrame:
    """The frame of table ``name`` from rows whose values follow ``fields``."""
    target = table(name)
    columns = frame_columns(target)
    if list(fields) != columns:
        raise ValueError(f"{name}: rows carry {list(fields)}, the table declares {columns}")
    if not rows:
        return empty_frame(name)
    # one frame of objects, then the few typed columns converted: twice as fast as
    # building each column from its own list
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    for column in columns:
        dtype = target.column(column).logical.frame_dtype
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame
