"""moto's S3 server on loopback for the lake benchmark, and its access log read by request.

The server runs in a process of its own, its access log (werkzeug's, one line per request)
captured to a file: that log, not the client, counts the requests, by method (a GET with
``list-type=2`` is a LIST) and by what they touch. Each phase is bracketed by a marker
request the log must show before the phase is read, so no line is counted twice or missed.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

BUCKET = "t212-bench-lake"
PREFIX = "lake"
_LINE = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) (\S+) HTTP/[\d.]+" (\d{3})')
_MARK = "_benchmark_mark"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Request:
    """One line of the access log."""

    kind: str
    area: str
    key: str
    status: int


def key_parts(key: str) -> list[str]:
    """A key's components under its lake (``lake/<accounts>/``)."""
    parts = key.split("/")
    return parts[2:] if parts[0] == PREFIX else parts


def area(key: str) -> str:
    """What a key under a lake is: a table's data or log, the raw zone, a database, a lease."""
    parts = key_parts(key)
    if parts[0] == "tables":
        return "delta log" if "_delta_log" in parts else "table data"
    return {"raw": "raw runs", "duckdb": "database", "leases": "leases"}.get(parts[0], "other")


def parse(line: str) -> Request | None:
    """The request of one access-log line; None for any other line (start-up, markers)."""
    found = _LINE.search(line)
    if found is None or _MARK in line:
        return None
    method, target, status = found.group(1), found.group(2), int(found.group(3))
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    kind = "LIST" if method == "GET" and query.get("list-type") == ["2"] else method
    path = unquote(url.path).removeprefix(f"/{BUCKET}").lstrip("/")
    key = query["prefix"][0] if kind == "LIST" and "prefix" in query else path
    return Request(kind, area(key), key, status)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server process: terminate it, then kill it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Moto:
    """moto's S3 server on loopback with its access log in a file; one bucket."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self._proc: subprocess.Popen | None = None
        self._marks = 0

    def __enter__(self) -> Moto:
        port = self.endpoint.rsplit(":", 1)[1]
        with self.log.open("wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.endpoint, timeout=1)
                break
            except httpx.TransportError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto did not start: {self.log.read_text()[-500:]}"
                    ) from None
                time.sleep(0.1)
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        stop(self._proc)

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """The environment that points the lake's clients at this server, or at ``endpoint``
        (a proxy in front of it), with fake credentials."""
        return {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
                "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": endpoint or self.endpoint,
                "AWS_ALLOW_HTTP": "true"}  # fmt: skip

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        env = self.env()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip

    def mark(self) -> int:
        """The log's length once every request sent so far is in it.

        Requests are logged after their answers, so a marker request's line, once seen,
        follows the lines of every request answered before it.
        """
        self._marks += 1
        name = f"{_MARK}{self._marks}"
        httpx.head(f"{self.endpoint}/{BUCKET}/{name}", timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = self.log.read_bytes()
            at = text.find(f"/{name} ".encode())
            end = text.find(b"\n", at) if at >= 0 else -1
            if end >= 0:
                return end + 1
            time.sleep(0.02)
        raise RuntimeError("moto's access log did not show the marker request")

    def requests(self, start: int, end: int) -> list[Request]:
        """Every request logged between two marks."""
        with self.log.open("rb") as log:
            log.seek(start)
            lines = log.read(end - start).decode(errors="replace").splitlines()
        return [r for r in map(parse, lines) if r is not None]

    def objects(self) -> dict[str, tuple[str, int]]:
        """(ETag, size) of every object in the bucket."""
        found = {}
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"]] = (item["ETag"], item["Size"])
        return found
