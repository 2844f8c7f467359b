"""The page feed: every page once and in order, batches bounded, errors and early exits."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.pipeline.feed import PageFeed


@settings(max_examples=60, deadline=None)
@given(pages=st.lists(st.integers(), max_size=40), max_pages=st.integers(1, 7))
def test_batches_hold_every_page_once_in_order_and_never_more_than_the_bound(pages, max_pages):
    with PageFeed(pages, max_pages, linger=0.001) as feed:
        batches = list(feed.batches())
    assert [page for batch in batches for page in batch] == pages
    assert all(1 <= len(batch) <= max_pages for batch in batches)


def test_pages_that_arrive_while_the_consumer_is_busy_come_as_one_batch():
    release = threading.Event()

    def pages():
        yield 1
        release.wait(5)
        yield from range(2, 12)

    with PageFeed(pages(), 100, linger=0.5) as feed:
        batches = feed.batches()
        assert next(batches) == [1]  # nothing else came within the linger
        release.set()
        assert next(batches) == list(range(2, 12))


def test_an_error_of_the_pages_is_raised_by_the_consumer():
    def pages():
        yield 1
        raise OSError("connection reset")

    with PageFeed(pages(), 10, linger=0.01) as feed, pytest.raises(OSError, match="reset"):
        list(feed.batches())


def test_leaving_early_stops_the_fetching_thread_and_closes_the_pages():
    fetched, closed = [], threading.Event()

    def pages():
        try:
            for n in range(10_000):
                fetched.append(n)
                yield n
        finally:
            closed.set()

    started = time.monotonic()
    with PageFeed(pages(), 2, linger=0.01) as feed:
        next(feed.batches())
    assert closed.wait(2)
    assert len(fetched) < 100
    assert time.monotonic() - started < 2


def test_the_bound_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        PageFeed([], 0)
