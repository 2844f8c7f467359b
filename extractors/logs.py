"""What httpx and httpcore may log: no query of a signed link, no credential of a live client."""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractors.redaction import Redactor

# httpx logs each request's URL; httpcore, at DEBUG, each response's headers (Location).
LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_QUERY = re.compile(r"\?[^\s'\"<>()\[\]]*")

_lock = threading.Lock()
_hiding: Counter[int] = Counter()  # thread id -> signed-link downloads in progress on it
_redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()


def strip_queries(text: str) -> str:
    """``text`` with the query of every URL in it removed (scheme, host and path stay)."""
    return _QUERY.sub("", text)


class _Guard(logging.Filter):
    """Rewrites a record before any handler sees it; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            hiding = _hiding[record.thread] > 0 if record.thread is not None else False
            redactors = list(_redactors)
        if not hiding and not redactors:
            return True
        message = record.getMessage()
        if hiding:
            message = strip_queries(message)
        for redact in redactors:
            message = redact(message)
        record.msg, record.args = message, None
        return True


_GUARD = _Guard()


def guard() -> None:
    """Put the filter on httpx's and httpcore's loggers (once per process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _GUARD not in logger.filters:
            logger.addFilter(_GUARD)


def watch(redactor: Redactor) -> None:
    """Mask what ``redactor`` masks in every record of those loggers while it lives."""
    guard()
    with _lock:
        _redactors.add(redactor)


@contextmanager
def signed_links_hidden() -> Iterator[None]:
    """While inside, URLs in records made on this thread by those loggers lose their query."""
    guard()
    me = threading.get_ident()
    with _lock:
        _hiding[me] += 1
    try:
        yield
    finally:
        with _lock:
            _hiding[me] -= 1
            if _hiding[me] <= 0:
                del _hiding[me]
