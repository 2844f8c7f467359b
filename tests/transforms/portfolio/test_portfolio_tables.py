"""The model as Arrow tables, built a chunk of rows at a time, equals the model as frames."""

from __future__ import annotations

import pytest

from tests.transforms.portfolio.test_gains import TWO_BUYS_TWO_SELLS, event
from transforms.frames import to_arrow
from transforms.portfolio.model import derive_portfolio, derive_portfolio_tables

EVENTS = [
    *TWO_BUYS_TWO_SELLS,
    *(
        event(kind, f"2024-0{month}-1{day}T09:00", 5, 500 + month, 1, instrument=f"I{n}",
              event_id=f"{n}-{month}-{day}")
        for n in range(4)
        for month in range(1, 7)
        for day, kind in ((0, "buy"), (5, "sell"))
    ),
]  # fmt: skip


@pytest.mark.parametrize("chunk_rows", [1, 7, 50_000])
def test_chunked_tables_equal_the_frames(chunk_rows):
    frames = derive_portfolio(EVENTS)
    tables = derive_portfolio_tables(EVENTS, chunk_rows=chunk_rows)
    assert set(tables) == set(frames)
    for name, frame in frames.items():
        assert len(frame) > 5, name
        assert tables[name].equals(to_arrow(frame, name)), name


def test_no_events_give_empty_tables_with_the_declared_schema():
    tables = derive_portfolio_tables([])
    for name, frame in derive_portfolio([]).items():
        assert tables[name].num_rows == 0
        assert tables[name].schema == to_arrow(frame, name).schema
