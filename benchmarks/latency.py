"""A real store's round trip on loopback: an HTTP proxy that holds each request a fixed delay.

The lake benchmark's S3 server (moto) answers on loopback in well under a millisecond; a
real object store takes 10-50 ms a request. This proxy sits between the lake's clients and
moto, waits ``delay`` seconds before forwarding each request, then streams the request
body up and the answer down as they come (chunked when the server sends it chunked), so
sizes, headers and signatures reach moto untouched. One thread per client connection,
keep-alive towards the client, one fresh connection to moto per request. Run it in a
process of its own (``python -m benchmarks.latency``) so forwarding is not charged to the
export being measured.
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

from benchmarks.s3server import stop

DELAY_MS = 20.0  # the default delay per request: a nearby region of a real store
_CHUNK = 256 * 2**10
# headers that describe one connection, not the message (RFC 9110 7.6.1)
_HOP = frozenset(
    ("connection", "keep-alive", "proxy-connection", "proxy-authenticate", "te", "trailer",
     "proxy-authorization", "transfer-encoding", "upgrade")
)  # fmt: skip


class _Forward(BaseHTTPRequestHandler):
    """Forwards one request at a time of a client connection to the upstream server."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle client connection ends after this
    server: LatencyProxy

    def do_GET(self) -> None:
        self._forward()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the upstream server keeps the access log."""

    def _forward(self) -> None:
        time.sleep(self.server.delay)
        host, port = self.server.upstream
        upstream = http.client.HTTPConnection(host, port, timeout=300)
        try:
            self._send_up(upstream)
            self._send_down(upstream.getresponse())
        finally:
            upstream.close()

    def _send_up(self, upstream: http.client.HTTPConnection) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in _HOP:
                upstream.putheader(name, value)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        if chunked:
            for piece in self._chunks_in():
                upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            upstream.send(b"0\r\n\r\n")
            return
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            piece = self.rfile.read(min(_CHUNK, left))
            if not piece:
                raise ConnectionError("the client closed the connection mid-body")
            upstream.send(piece)
            left -= len(piece)

    def _chunks_in(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers, dropped
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _send_down(self, answer: http.client.HTTPResponse) -> None:
        self.send_response_only(answer.status, answer.reason)
        length = answer.getheader("Content-Length")
        no_body = self.command == "HEAD" or answer.status in (204, 304) or answer.status < 200
        chunked = not no_body and length is None
        for name, value in answer.getheaders():
            if name.lower() not in _HOP:
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        while piece := answer.read1(_CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class LatencyProxy(ThreadingHTTPServer):
    """The proxy on a free loopback port, serving in a thread while used as a context."""

    daemon_threads = True

    def __init__(self, upstream: str, delay: float = DELAY_MS / 1000, port: int = 0) -> None:
        url = urlsplit(upstream)
        self.upstream = (url.hostname or "127.0.0.1", url.port or 80)
        self.delay = delay
        super().__init__(("127.0.0.1", port), _Forward)
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self.serve_forever, name="latency-proxy")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class ProxyProcess:
    """The proxy in a process of its own, started and stopped as a context."""

    def __init__(self, upstream: str, delay: float, port: int) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self._args = [sys.executable, "-m", "benchmarks.latency", upstream,
                      "--delay-ms", str(delay * 1000), "--port", str(port)]  # fmt: skip
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> ProxyProcess:
        self._proc = subprocess.Popen(self._args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.endpoint, timeout=1)
                return self
            except httpx.TransportError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the latency proxy did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        stop(self._proc)


def main(argv: list[str] | None = None) -> int:
    """Serve the proxy until terminated."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("upstream", help="the server's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--delay-ms", type=float, default=DELAY_MS, help="delay per request")
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one)")
    args = parser.parse_args(argv)
    proxy = LatencyProxy(args.upstream, args.delay_ms / 1000, args.port)
    try:
        proxy.serve_forever()
    finally:
        proxy.server_close()
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    raise SystemExit(main())
