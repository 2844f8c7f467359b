"""Progress of long work: live line on a terminal, log lines otherwise, and the estimate."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest

from flows.pipeline.progress import Progress, estimate_left

NEWEST = datetime(2026, 1, 31, tzinfo=UTC)


def test_estimate_from_how_far_back_the_walk_got():
    stop = NEWEST - timedelta(days=100)
    reached = NEWEST - timedelta(days=25)  # a quarter of the way in 10 s: 30 s left
    assert estimate_left(10.0, NEWEST, reached, stop) == pytest.approx(30.0)
    assert estimate_left(10.0, NEWEST, stop - timedelta(days=1), stop) == pytest.approx(0.0)
    assert estimate_left(10.0, NEWEST, reached, None) is None
    assert estimate_left(10.0, NEWEST, NEWEST, stop) is None


def test_live_line_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    stop = NEWEST - timedelta(days=10)
    progress.page("1/dividends", 50, newest=NEWEST, reached=NEWEST - timedelta(days=5), stop=stop)
    progress.wait("1/dividends", 12.0)
    progress.page("1/dividends", 50, newest=NEWEST, reached=NEWEST - timedelta(days=9), stop=stop)
    progress.done()
    text = stream.getvalue()
    assert "\r\x1b[K1/dividends: 1 pages, 50 rows, 0s waited, back to 2026-01-26" in text
    assert "waiting 12s for the rate limit" in text
    assert "2 pages, 100 rows, 12s waited, back to 2026-01-22, about" in text
    assert text.endswith("\r\x1b[K")


def test_plain_log_lines_when_not_a_terminal(caplog):
    progress = Progress(io.StringIO(), live=False, every=3600)
    with caplog.at_level(logging.INFO, logger="t212_etl"):
        for _ in range(5):
            progress.page("1/orders", 50)
        progress.wait("/api/v0/equity/history/orders", 30.0)
    messages = [r.getMessage() for r in caplog.records]
    # throttled: the first page line, then the wait (always shown), not every page
    assert messages == [
        "1/orders: 1 pages, 50 rows, 0s waited",
        "/api/v0/equity/history/orders: waiting 30s for the rate limit",
    ]
