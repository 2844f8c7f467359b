"""A local S3-compatible server (moto) for the lake's tests, and the environment to reach it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from benchmarks.s3server import stop

# fake credentials: moto accepts any, and the suite's secret scan looks for this one
ACCESS_KEY = "AKIALAKETESTKEY00001"
SECRET_KEY = "lake-test-secret-7Qx2Vb9Kp4Zr8Tn1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(timeout: float = 30) -> Iterator[str]:
    """Run moto's server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start on port {port}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        stop(proc)


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment that points S3 clients (obstore, deltalake, Polars) at ``endpoint``."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def new_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the server; returns its name."""
    import boto3

    name = f"lake-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name)
    return name


_METHODS = (b"GET ", b"PUT ", b"POST ", b"HEAD ", b"DELETE ")


class FreezingProxy:
    """A TCP proxy on loopback in front of ``upstream``; once frozen it still accepts
    connections and reads requests, but forwards and answers nothing, as a store that hangs.

    ``requests_frozen`` counts the requests it swallowed (as they begin on the wire);
    ``stalls`` counts the waits they made: requests held at the same time wait as one.
    """

    def __init__(self, upstream: str) -> None:
        self._upstream = ("127.0.0.1", int(upstream.rsplit(":", 1)[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.frozen = threading.Event()
        self.requests_frozen = 0
        self.stalls = 0
        self._held = 0  # requests held now
        self._counting = threading.Lock()
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                self._sockets.append(client)
                if self.frozen.is_set():  # held: read, never answered
                    self._start(client, None)
                    continue
                upstream = socket.create_connection(self._upstream)
            except OSError:
                return  # closed
            self._sockets.append(upstream)
            self._start(client, upstream)
            self._start(upstream, client)

    def _start(self, source: socket.socket, target: socket.socket | None) -> None:
        threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket | None) -> None:
        held = False  # a request of this connection is held until the client hangs up
        try:
            while data := source.recv(65536):
                if target is not None and not self.frozen.is_set():
                    target.sendall(data)
                elif data.startswith(_METHODS):
                    with self._counting:
                        self.requests_frozen += 1
                        if not held:
                            self.stalls += self._held == 0
                            self._held, held = self._held + 1, True
        except OSError:
            pass
        finally:
            if held:
                with self._counting:
                    self._held -= 1
            if target is not None and not self.frozen.is_set():  # frozen: nobody hangs up
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
