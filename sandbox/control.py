"""Control endpoints under /_sandbox/, a prefix the real API does not use: truth, clock, faults."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from sandbox.exports import render_csv
from sandbox.wire import encode, iso

if TYPE_CHECKING:
    from sandbox.service import Sandbox

JSON = "application/json"
_REPORT = re.compile(r"/_sandbox/reports/(\d+)\.csv")


def _json(status: int, payload: object) -> tuple[int, bytes, str]:
    return status, encode(payload), JSON


def _account(sandbox: Sandbox, params: dict[str, str]) -> int | None:
    text = params.get("account_id")
    if text:
        return int(text)
    return None


def handle(
    sandbox: Sandbox, method: str, path: str, query: str, body: bytes
) -> tuple[int, bytes, str]:
    """(status, body, content type) for a control request."""
    params = {k: v[0] for k, v in parse_qs(query).items()}
    try:
        return _route(sandbox, method, path, params, body)
    except (KeyError, ValueError, TypeError) as exc:
        return _json(400, {"code": "BadControlRequest", "message": str(exc)})


def _route(
    sandbox: Sandbox, method: str, path: str, params: dict[str, str], body: bytes
) -> tuple[int, bytes, str]:
    match = _REPORT.fullmatch(path)
    if match and method == "GET":
        found = sandbox.desk.finished(int(match.group(1)))
        if found is None:
            return 404, b"", "text/plain"
        book = sandbox.books[found.account_id]
        return 200, render_csv(found, book), "text/csv; charset=utf-8"
    if method == "GET" and path == "/_sandbox/accounts":
        accounts = [
            {"id": b.spec.account_id, "currency": b.spec.currency, "kind": b.spec.kind}
            for b in sandbox.books.values()
        ]
        return _json(200, accounts)
    if method == "GET" and path == "/_sandbox/truth":
        account_id = _account(sandbox, params)
        if account_id is None:
            raise ValueError("account_id is required")
        return _json(200, sandbox.truth(account_id))
    if method == "GET" and path == "/_sandbox/requests":
        return _json(200, sandbox.request_counts(_account(sandbox, params)))
    if method == "POST" and path == "/_sandbox/reset-counts":
        sandbox.reset_counts()
        return _json(200, {"ok": True})
    if method == "POST" and path == "/_sandbox/advance":
        sandbox.advance(days=int(params.get("days", "1")))
        first = next(iter(sandbox.books.values()))
        return _json(200, {"now": iso(first.now_ms)})
    if method == "POST" and path == "/_sandbox/faults":
        spec = json.loads(body or b"{}")
        if "rates" in spec:
            sandbox.set_fault_rates(**spec["rates"])
        else:
            sandbox.inject(
                spec["fault"], spec.get("path"), int(spec.get("times", 1)),
                int(spec.get("after", 0)), spec.get("account_id"), spec.get("method"),
            )  # fmt: skip
        return _json(200, {"ok": True})
    if method in ("DELETE", "POST") and path == "/_sandbox/faults/clear":
        sandbox.clear_faults()
        return _json(200, {"ok": True})
    return _json(404, {"code": "NotFound"})
