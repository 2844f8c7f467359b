"""Signed report links: fetched without credentials, and their query never logged by anyone."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from extractors.errors import DeadlineExceeded, TransportError
from extractors.reports import Downloader, ReportFailed
from tests.loopback import serving

SIGNATURE = "X-Amz-Signature=5ec2e7b1a9"
REDIRECTED = "X-Amz-Signature=0dd5f1a2c3"


class Links(BaseHTTPRequestHandler):
    """``/start`` redirects to ``/report.csv`` with a new signature; ``/gone`` is a 403;
    ``/drip`` sends 100 bytes, one every 50 ms."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Answer one link."""
        path = self.path.split("?", 1)[0]
        if path == "/drip":
            self._drip()
            return
        if path == "/start":
            self.send_response(302)
            self.send_header("Location", f"/report.csv?{REDIRECTED}&X-Amz-Expires=60")
            self.send_header("Content-Length", "0")
        elif path == "/report.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "4")
        else:
            self.send_response(403)
            self.send_header("Content-Length", "0")
        self.end_headers()
        if path == "/report.csv":
            self.wfile.write(b"a,b\n")

    def _drip(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                time.sleep(0.05)
        except OSError:
            return

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def links() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Links)) as url:
        yield url


def test_signed_link_queries_never_reach_any_log(links, caplog):
    for name in ("httpx", "httpcore", "extractors"):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG)
    with Downloader() as downloader:
        assert downloader.fetch(f"{links}/start?{SIGNATURE}&X-Amz-Expires=60") == b"a,b\n"
        with pytest.raises(ReportFailed) as err:
            downloader.fetch(f"{links}/gone?{SIGNATURE}")
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert f"{links}/start" in logged and f"{links}/report.csv" in logged  # still logged
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for secret in (SIGNATURE, REDIRECTED, "5ec2e7b1a9", "0dd5f1a2c3", "X-Amz-Expires"):
        assert secret not in logged
        assert secret not in str(err.value)


def test_other_requests_keep_their_query_in_the_logs(links, caplog):
    import httpx

    caplog.set_level(logging.DEBUG, logger="httpx")
    with Downloader():
        httpx.get(f"{links}/report.csv?page=2")
    assert f"{links}/report.csv?page=2" in caplog.text


def test_a_dripping_link_gives_up_within_the_total_timeout(links):
    started = time.monotonic()
    with Downloader(total_timeout=0.3) as downloader, pytest.raises(TransportError) as err:
        downloader.fetch(f"{links}/drip?{SIGNATURE}")
    # three attempts of 0.3 s and pauses of 0.5 s and 1 s, not three of 5 s
    assert time.monotonic() - started < 3.5
    assert "timed out" in str(err.value) and SIGNATURE not in str(err.value)


def test_a_download_stops_at_the_run_deadline(links):
    started = time.monotonic()
    with Downloader() as downloader, pytest.raises(DeadlineExceeded) as err:
        downloader.fetch(f"{links}/drip?{SIGNATURE}", time_left=0.4)
    assert time.monotonic() - started < 1.0
    assert "127.0.0.1" in str(err.value) and "drip" not in str(err.value)
