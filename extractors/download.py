"""Fetching pre-signed report links: no credentials sent, no signature logged, bounded in time."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from extractors.auth import is_loopback
from extractors.errors import DeadlineExceeded, ReportFailed, TransportError
from extractors.logs import signed_links_hidden
from extractors.redaction import PLAIN
from extractors.transfer import USER_AGENT, Overdue, read_within, tls_context

DOWNLOAD_ATTEMPTS = 3
# A year's CSV report is a few MB at most; this bounds one attempt however slowly it comes.
DOWNLOAD_TOTAL_TIMEOUT = 300.0


def link_host(url: str) -> str:
    """The host a link points to, fit for a message (the rest of a signed link is secret)."""
    return PLAIN.quote(urlsplit(url).hostname or "an unnamed host", 100)


def check_link(url: str) -> None:
    """Refuse a download link that is not https (plain http only on loopback)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise ReportFailed(f"refusing the report link to {link_host(url)}: it is not https")


class Downloader:
    """A plain client for pre-signed report links: it never holds or sends credentials.

    A link to loopback never goes through a proxy; others honour the proxy settings of the
    environment. httpx's and httpcore's logs of its requests keep no query.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
        total_timeout: float = DOWNLOAD_TOTAL_TIMEOUT,
    ):
        self._transport = transport
        self._timeout = timeout
        self.total_timeout = total_timeout
        self._clients: dict[bool, httpx.Client] = {}

    def _client(self, url: str) -> httpx.Client:
        loopback = is_loopback(urlsplit(url).hostname or "")
        if loopback not in self._clients:
            self._clients[loopback] = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                verify=tls_context(),
                trust_env=not loopback,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT, "Accept": "text/csv, */*"},
                event_hooks={"request": [lambda request: check_link(str(request.url))]},
            )
        return self._clients[loopback]

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients.values():
            client.close()

    def fetch(self, url: str, time_left: float | None = None) -> bytes:
        """The bytes at ``url``; transient failures are retried a few times.

        ``time_left`` is what remains of the run (DeadlineExceeded when it runs out).
        Errors name the host only: the link's query is a signature.
        """
        check_link(url)
        give_up = None if time_left is None else time.monotonic() + time_left
        with signed_links_hidden():
            for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
                status = self._attempt(url, give_up)
                if isinstance(status, bytes):
                    return status
                if attempt == DOWNLOAD_ATTEMPTS or (isinstance(status, int) and status < 500):
                    break
                pause = 0.5 * attempt
                if give_up is not None and time.monotonic() + pause > give_up:
                    raise DeadlineExceeded(f"the report download from {link_host(url)}")
                time.sleep(pause)
        if isinstance(status, int):
            raise ReportFailed(f"report download from {link_host(url)} answered HTTP {status}")
        raise TransportError(f"report download from {link_host(url)} failed ({status})")

    def _attempt(self, url: str, give_up: float | None) -> bytes | int | str:
        """The body, else the HTTP status, else the name of the transport failure."""
        started = time.monotonic()
        budget = self.total_timeout
        if give_up is not None:
            budget = min(budget, give_up - started)
            if budget <= 0:
                raise DeadlineExceeded(f"the report download from {link_host(url)}")
        try:
            with self._client(url).stream("GET", url, timeout=min(self._timeout, budget)) as r:
                if r.status_code != 200:
                    return r.status_code
                return read_within(r, started + budget)
        except (httpx.TimeoutException, Overdue):
            if give_up is not None and time.monotonic() >= give_up - 0.01:
                raise DeadlineExceeded(f"the report download from {link_host(url)}") from None
            return "timed out"
        except httpx.TransportError as exc:
            return type(exc).__name__
