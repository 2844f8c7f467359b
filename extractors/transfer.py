"""Shared by all requests: the user agent, one TLS context, an answer read within a budget."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import httpx

try:
    __version__ = version("t212-etl")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

USER_AGENT = f"t212-etl/{__version__} (+https://github.com/t212-etl/t212-etl)"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The default TLS context, built once per process and shared by every client.

    Reading the CA bundle takes about 20 ms; a context serves any number of connections.
    """
    return httpx.create_ssl_context()


class Overdue(Exception):
    """The answer did not arrive whole within its budget."""


def phase_timeouts(timeout: httpx.Timeout, budget: float) -> httpx.Timeout:
    """``timeout`` with no phase (connect, read, write, pool) longer than ``budget`` seconds."""
    budget = max(budget, 0.001)

    def within(seconds: float | None) -> float:
        return budget if seconds is None else min(seconds, budget)

    return httpx.Timeout(
        connect=within(timeout.connect),
        read=within(timeout.read),
        write=within(timeout.write),
        pool=within(timeout.pool),
    )


def read_within(
    response: httpx.Response, until: float, monotonic: Callable[[], float] = time.monotonic
) -> bytes:
    """The whole body of a streamed ``response``; Overdue once ``monotonic()`` passes ``until``.

    httpx's timeouts bound each read, so a server that sends a byte now and then would
    never time out; the total is checked after every chunk.
    """
    if monotonic() > until:
        raise Overdue
    chunks = []
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        if monotonic() > until:
            raise Overdue
    return b"".join(chunks)
