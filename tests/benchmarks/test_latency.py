"""The latency proxy: each request held the delay, bodies and headers passed through intact."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from benchmarks.latency import LatencyProxy

BIG = os.urandom(3 * 2**20 + 17)  # several of the proxy's chunks, not a multiple of one


class _Echo(BaseHTTPRequestHandler):
    """Answers with the digest of the request body and the headers it saw; GET /big
    streams a large body chunked, GET /sized sends it with a length."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path in ("/big", "/sized"):
            self.send_response(200)
            if self.path == "/big":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for at in range(0, len(BIG), 100_000):
                    piece = BIG[at : at + 100_000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(BIG)))
                self.end_headers()
                self.wfile.write(BIG)
            return
        self._answer(b"")

    def do_PUT(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            while size := int(self.rfile.readline().strip(), 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(body)

    def do_HEAD(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "123")
        self.end_headers()

    def _answer(self, body: bytes) -> None:
        text = f"{hashlib.sha256(body).hexdigest()} {self.headers.get('X-Amz-Meta-Note')}"
        self.send_response(201)
        self.send_header("ETag", '"e1"')
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_bodies_and_headers_pass_through_both_ways(upstream):
    with LatencyProxy(upstream, delay=0.0) as proxy, httpx.Client(base_url=proxy.endpoint) as c:
        sent = c.put("/b/key?x=1", content=BIG, headers={"X-Amz-Meta-Note": "kept"})
        assert (sent.status_code, sent.headers["etag"]) == (201, '"e1"')
        assert sent.text == f"{hashlib.sha256(BIG).hexdigest()} kept"
        streamed = c.put("/b/key", content=iter([BIG[:1000], BIG[1000:]]))
        assert streamed.text.split()[0] == hashlib.sha256(BIG).hexdigest()
        assert c.get("/big").content == BIG
        assert c.get("/sized").content == BIG
        head = c.head("/b/missing")
        assert (head.status_code, head.headers["content-length"], head.content) == (404, "123", b"")


def test_each_request_waits_the_delay(upstream):
    with LatencyProxy(upstream, delay=0.15) as proxy, httpx.Client(base_url=proxy.endpoint) as c:
        for _ in range(3):
            started = time.perf_counter()
            assert c.get("/x").status_code == 201
            assert time.perf_counter() - started >= 0.15
