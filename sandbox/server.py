"""The HTTP server: a threading stdlib server that writes what the gateway and control decide."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import urlsplit

from sandbox import control
from sandbox.config import SandboxConfig
from sandbox.gateway import echo, faulty
from sandbox.resources import Reply
from sandbox.wire import Request

log = logging.getLogger("sandbox")
MAX_BODY = 1_000_000


class Served(control.Controls, Protocol):
    """What the server asks of the sandbox: API answers, controls, timings and shutdown."""

    config: SandboxConfig
    stopping: threading.Event  # set when the sandbox stops: slow answers end early

    def answer(self, request: Request) -> tuple[Reply, str | None]:
        """The reply to an API request and the fault to apply while writing it (if any)."""


class SandboxServer(ThreadingHTTPServer):
    """A threading server that knows its sandbox; handler threads never block shutdown."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Served) -> None:
        self.sandbox = sandbox
        super().__init__(address, Handler)

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up mid-answer are normal here; keep them out of stderr."""
        log.debug("connection error from %s", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    """One connection: keep-alive HTTP/1.1, every answer with a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "t212-sandbox"
    sys_version = ""
    timeout = 120
    server: SandboxServer

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in separate writes."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default access log (it would go to stderr)."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b'{"code":"PayloadTooLarge"}', "application/json", {})
            return
        body = self.rfile.read(length) if length else b""
        request = Request(method, url.path, url.query, body, self.headers.get("Authorization"))
        try:
            if url.path.startswith("/_sandbox/"):
                status, payload, ctype = control.handle(sandbox, request)
                self._send(status, payload, ctype, {})
                return
            if not url.path.startswith("/api/"):
                self._send(404, b'{"code":"NotFound"}', "application/json", {})
                return
            reply, fault = sandbox.answer(request)
        except Exception:
            log.exception("sandbox failed on %s %s", method, url.path)
            self._send(500, b'{"code":"SandboxError"}', "application/json", {})
            return
        if fault == "reset":
            self._reset()
            return
        if fault == "echo_headers":
            page = echo(self.headers.items())
            # "retry now": a client that honours Retry-After fails fast on a persistent echo
            mirrored = {
                "X-Echo-Authorization": self.headers.get("Authorization") or "",
                "Retry-After": "0",
            }
            self._send(503, page, "text/plain; charset=utf-8", {**reply.headers, **mirrored})
            return
        cfg = sandbox.config
        if fault == "slow":
            sandbox.stopping.wait(cfg.slow_seconds * cfg.time_scale)
        status, payload, ctype = faulty(reply, fault)
        if fault == "drip":
            self._drip(status, payload, ctype, reply.headers, cfg.drip_seconds * cfg.time_scale)
            return
        self._send(status, payload, ctype, reply.headers)

    def _head(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        if body or status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self._head(status, body, ctype, headers)
        self.wfile.write(body)

    def _drip(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str], pause: float
    ) -> None:
        """Headers at once, then the body one byte at a time: every read is quick."""
        self.close_connection = True
        self._head(status, body, ctype, headers)
        stopping = self.server.sandbox.stopping
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if stopping.wait(pause):
                    return
        except OSError:
            log.debug("the client hung up on a dripping answer", exc_info=True)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            log.debug("reset of an already closed connection", exc_info=True)
