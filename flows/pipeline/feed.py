"""Pages fetched on a thread of their own and handed over in batches of what has arrived.

The fetching thread never waits for the merge, and a batch takes every page that comes in
until none has come for ``linger`` seconds: while the rate limit holds the network back, a
batch is a burst of pages; when pages come faster, batches grow up to ``max_pages``, so
the fixed cost of normalising and staging a batch is paid rarely. The queue holds at most
``max_pages`` pages, so memory stays bounded by two batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _is_end(item: Any) -> bool:
    return item is _DONE or isinstance(item, _Failed)


class PageFeed:
    """``with PageFeed(pages, max_pages) as feed: for batch in feed.batches(): ...``.

    ``pages`` is consumed on a thread of its own; an error it raises is raised by
    :meth:`batches`. Leaving the block early stops the thread before its next page.
    """

    def __init__(self, pages: Iterable[Any], max_pages: int, linger: float = 0.2) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.max_pages = max_pages
        self.linger = linger
        self._pages = pages
        self._queue: queue.Queue = queue.Queue(maxsize=max_pages)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="t212-pages", daemon=True)

    def __enter__(self) -> PageFeed:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(timeout=0.05)

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self) -> None:
        pages = iter(self._pages)
        try:
            for page in pages:
                if not self._put(page):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def batches(self) -> Iterator[list[Any]]:
        """Batches of the pages fetched so far, each at least one page, in fetch order."""
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_pages and not _is_end(batch[-1]):
                try:
                    batch.append(self._queue.get(timeout=self.linger))
                except queue.Empty:
                    break
            last = batch[-1]
            if isinstance(last, _Failed):
                raise last.error
            done = last is _DONE
            pages = batch[:-1] if done else batch
            if pages:
                yield pages
            if done:
                return
