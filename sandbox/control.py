"""Control endpoints under /_sandbox/, a prefix the real API does not use: truth, clock, faults."""

from __future__ import annotations

import json
import re
from typing import Any, Protocol
from urllib.parse import parse_qs

from sandbox.config import AccountSpec
from sandbox.wire import Request, encode, iso

JSON = "application/json"
_REPORT = re.compile(r"/_sandbox/reports/(\d+)\.csv")


class Controls(Protocol):
    """What the control endpoints ask of the sandbox."""

    def accounts(self) -> list[AccountSpec]:
        """The accounts served, in configuration order."""

    def now_ms(self) -> int:
        """The accounts' clock, Unix milliseconds."""

    def report_csv(self, report_id: int) -> bytes | None:
        """A finished report's file, or None while there is none."""

    def truth(self, account_id: int) -> dict:
        """Exact totals per resource of an account."""

    def request_counts(self, account_id: int | None = None) -> dict[str, int]:
        """Requests answered per API path, of one account or of all."""

    def reset_counts(self) -> None:
        """Forget the request counts."""

    def advance(self, days: int = 1) -> None:
        """Move every account's clock ahead."""

    def inject(self, fault: str, path: str | None = None, **match: Any) -> None:
        """Apply ``fault`` to the next matching API requests (``match``: ``Fault``'s fields)."""

    def set_fault_rates(self, **rates: float) -> None:
        """Random faults at the given rates."""

    def clear_faults(self) -> None:
        """Remove scheduled faults and rates."""


def _json(status: int, payload: object) -> tuple[int, bytes, str]:
    return status, encode(payload), JSON


def _account(sandbox: Controls, params: dict[str, str]) -> int | None:
    text = params.get("account_id")
    if text:
        return int(text)
    return None


def handle(sandbox: Controls, request: Request) -> tuple[int, bytes, str]:
    """(status, body, content type) for a control request."""
    params = {k: v[0] for k, v in parse_qs(request.query).items()}
    try:
        return _route(sandbox, request.method, request.path, params, request.body)
    except (KeyError, ValueError, TypeError) as exc:
        return _json(400, {"code": "BadControlRequest", "message": str(exc)})


def _route(
    sandbox: Controls, method: str, path: str, params: dict[str, str], body: bytes
) -> tuple[int, bytes, str]:
    match = _REPORT.fullmatch(path)
    if match and method == "GET":
        report = sandbox.report_csv(int(match.group(1)))
        if report is None:
            return 404, b"", "text/plain"
        return 200, report, "text/csv; charset=utf-8"
    if method == "GET" and path == "/_sandbox/accounts":
        accounts = [
            {"id": a.account_id, "currency": a.currency, "kind": a.kind} for a in sandbox.accounts()
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
        return _json(200, {"now": iso(sandbox.now_ms())})
    if method == "POST" and path == "/_sandbox/faults":
        spec = json.loads(body or b"{}")
        if "rates" in spec:
            sandbox.set_fault_rates(**spec["rates"])
        else:
            sandbox.inject(**spec)
        return _json(200, {"ok": True})
    if method in ("DELETE", "POST") and path == "/_sandbox/faults/clear":
        sandbox.clear_faults()
        return _json(200, {"ok": True})
    return _json(404, {"code": "NotFound"})
