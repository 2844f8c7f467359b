"""The sandbox: accounts, limiter, faults and reports behind a loopback HTTP server in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sandbox.account import AccountBook
from sandbox.config import ALL_SCOPES, AccountSpec, SandboxConfig
from sandbox.faults import Fault, FaultPlan
from sandbox.gateway import Gateway
from sandbox.ratelimit import RateLimiter
from sandbox.reports import ReportDesk, render_csv
from sandbox.resources import Reply
from sandbox.server import SandboxServer
from sandbox.wire import Request, to_ms


class Sandbox:
    """A local Trading 212: ``with Sandbox(cfg) as sb: httpx.get(sb.base_url + ...)``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        now_ms = to_ms(self.config.now)
        self.books = {
            spec.account_id: AccountBook(self.config.seed, spec, now_ms, self.config.extra_fields)
            for spec in self.config.accounts
        }
        self.limiter = RateLimiter(
            self.config.limits(), self.config.time_scale, burst=self.config.burst_limit
        )
        self.faults = FaultPlan(self.config.seed)
        self.desk = ReportDesk(self.config.seed, self.config.report_seconds, self.config.time_scale)
        self.gateway = Gateway(self.books, self.limiter, self.faults, self.desk)
        self.stopping = threading.Event()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._advance_lock = threading.Lock()

    # lifecycle

    def start(self) -> Sandbox:
        """Bind the configured address (port 0: a free port) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = SandboxServer((self.config.host, self.config.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="t212-sandbox",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; slow answers in flight are cut short."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``, the value for T212_BASE_URL."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # what the server and its control endpoints ask

    def answer(self, request: Request) -> tuple[Reply, str | None]:
        """The reply to an API request and the fault to apply while writing it (if any)."""
        return self.gateway.handle(request, self.base_url)

    def accounts(self) -> list[AccountSpec]:
        """The accounts served, in configuration order."""
        return [book.spec for book in self.books.values()]

    def now_ms(self) -> int:
        """The accounts' clock, Unix milliseconds (they all advance together)."""
        return next(iter(self.books.values())).now_ms

    def report_csv(self, report_id: int) -> bytes | None:
        """A finished report's file, or None while it is unknown or not finished."""
        report = self.desk.finished(report_id)
        if report is None:
            return None
        return render_csv(report, self.books[report.account_id])

    # truth and counts

    def truth(self, account_id: int) -> dict:
        """Exact totals per resource of an account, from the generator that serves the API."""
        return self.books[account_id].truth()

    def request_counts(self, account_id: int | None = None) -> dict[str, int]:
        """Requests answered per API path (every answer, 401/429/faults included).

        With ``account_id`` only that account's (known key) requests; otherwise all.
        """
        counts: dict[str, int] = {}
        for (acct, path), n in self.gateway.request_counts().items():
            if account_id is None or acct == account_id:
                counts[path] = counts.get(path, 0) + n
        return dict(sorted(counts.items()))

    def reset_counts(self) -> None:
        """Forget the request counts."""
        self.gateway.reset_counts()

    # the account changes

    def advance(self, days: int = 1) -> None:
        """Move every account's clock ahead, adding dividends, orders, transactions, interest."""
        with self._advance_lock:
            for book in self.books.values():
                book.advance(days)

    # faults and keys

    def inject(self, fault: str, path: str | None = None, **match: Any) -> None:
        """Apply ``fault`` to the next API requests (of ``path`` when given); ``match``
        holds the other fields of :class:`Fault` (``times``, ``after``, ``account_id``,
        ``method``).

        Every fault but 429 strikes after the service has handled the request (a POST has
        made its report), so a lost answer can be told from a refused request.
        """
        self.faults.schedule(Fault(fault, path, **match))

    def set_fault_rates(self, **rates: float) -> None:
        """Random faults at the given rates (``**{"500": 0.1}`` or ``e500=0.1``), seeded."""
        self.faults.set_rates(rates)

    def clear_faults(self) -> None:
        """Remove scheduled faults and rates."""
        self.faults.clear()

    def set_key_scopes(self, key: str, scopes: Iterable[str]) -> None:
        """Give a key exactly these scopes."""
        scopes = frozenset(scopes)
        if scopes - ALL_SCOPES:
            raise ValueError(f"unknown scopes {sorted(scopes - ALL_SCOPES)}")
        self.gateway.keys[key].scopes = scopes

    def set_ip_restricted(self, key: str, restricted: bool = True) -> None:
        """Make a key refuse requests as if they came from an address it does not allow."""
        self.gateway.keys[key].ip_restricted = restricted
