"""Where credentials travel: never through a proxy to loopback, through the set one to https."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from extractors.auth import Credentials
from extractors.client import ClientOptions, RetryPolicy, T212Client
from extractors.errors import RetriesExhausted
from extractors.reports import Downloader
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.sandbox.conftest import small_config

SUMMARY = "/api/v0/equity/account/summary"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class Recorder(BaseHTTPRequestHandler):
    """A proxy that writes down every request it gets and forwards none (502)."""

    seen: list[tuple[str, str, str | None]]

    def _refuse(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_CONNECT = _refuse

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def proxy(monkeypatch) -> Iterator[list[tuple[str, str, str | None]]]:
    """A recording proxy on loopback, named in every proxy variable; yields what it saw."""
    seen: list[tuple[str, str, str | None]] = []
    handler = type("Recording", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, url)
        monkeypatch.setenv(name.lower(), url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_loopback_requests_never_go_through_a_proxy(proxy):
    with Sandbox(small_config()) as sb:
        client = T212Client(
            Credentials(DEMO_KEY, DEMO_SECRET),
            base_url=sb.base_url,
            options=ClientOptions(retry=RetryPolicy(max_attempts=1)),
        )
        with client:
            assert client.get(SUMMARY).status == 200
        with Downloader() as downloader:
            assert downloader.fetch(f"{sb.base_url}/_sandbox/accounts?sig=x").startswith(b"[")
    assert proxy == []


def test_the_https_api_still_goes_through_the_configured_proxy(proxy):
    client = T212Client(
        Credentials(DEMO_KEY, DEMO_SECRET),
        env="live",
        options=ClientOptions(retry=RetryPolicy(max_attempts=1)),
    )
    with client, pytest.raises(RetriesExhausted):
        client.get(SUMMARY)
    # a tunnel: the proxy sees the host, never the Authorization header
    assert proxy == [("CONNECT", "live.trading212.com:443", None)]
