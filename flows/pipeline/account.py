"""One account's export and the run around it, as plain functions the Prefect flow wraps."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from extractors.client import ApiResponse, ClientOptions, EndpointStats, T212Client
from extractors.errors import MalformedResponse, PermissionDenied, T212Error
from extractors.resources import ON_REQUEST, RESOURCES, RUN_ORDER, Kind
from flows.pipeline.context import Job, RunContext
from flows.pipeline.resource import export_resource
from flows.pipeline.results import ResourceResult, copy_stats
from flows.pipeline.settings import AccountConfig, Settings
from transforms.account_summary import account_identity
from warehouse import Warehouse

log = logging.getLogger("t212_etl")

ResourceRunner = Callable[..., ResourceResult]


@dataclass
class AccountResult:
    """What one account did in a run."""

    name: str
    account_id: int | None = None
    currency: str | None = None
    resources: list[ResourceResult] = field(default_factory=list)
    error: str | None = None
    # per endpoint ("METHOD path"): the (requests, seconds) its headers announced last, and
    # the documented one
    rate_limits: dict[str, tuple[tuple[int, float], tuple[int, float]]] = field(
        default_factory=dict
    )

    @property
    def failed(self) -> bool:
        """True when the account or any of its resources failed."""
        return self.error is not None or any(r.outcome == "failed" for r in self.resources)


@dataclass
class ReferenceClaims:
    """Reference lists are global: one account per run fetches each of them."""

    claimed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, name: str) -> bool:
        """True for the first caller in this run."""
        with self.lock:
            if name in self.claimed:
                return False
            self.claimed.add(name)
            return True


def select_resources(only: Iterable[str] | None, with_reports: bool = False) -> list[str]:
    """The resources to export, in run order; unknown names are a clear error.

    Without ``only`` every resource except those run on request (CSV reports, unless
    ``with_reports``).
    """
    extra = set(ON_REQUEST) if with_reports else set()
    if not only:
        return [name for name in RUN_ORDER if name not in ON_REQUEST or name in extra]
    wanted = {name.strip() for name in only if name.strip()} | extra
    unknown = sorted(wanted - set(RESOURCES))
    if unknown:
        raise ValueError(
            f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(RUN_ORDER)}"
        )
    return [name for name in RUN_ORDER if name in wanted]


def build_client(account: AccountConfig, settings: Settings, **options) -> T212Client:
    """The account's client, with its credentials read from their source; ``options`` are
    fields of ``ClientOptions``."""
    return T212Client(
        account.credentials(settings.environ),
        env=account.env,
        base_url=account.base_url,
        options=ClientOptions(**options),
    )


def failed_result(
    name: str, account_id: int, exc: Exception, redact: Callable[[str], str] = str
) -> ResourceResult:
    """A failed resource result with a one-line message, credentials masked by ``redact``."""
    message = str(exc) if isinstance(exc, T212Error) else f"{type(exc).__name__}: {exc}"
    # one line: DuckDB appends paragraphs of advice to its errors
    message = redact((message.splitlines() or [""])[0])
    if isinstance(exc, PermissionDenied) and not exc.scope and name in RESOURCES:
        message += f"; this resource needs the scope '{RESOURCES[name].scope}'"
    return ResourceResult(name, account_id, outcome="failed", error=message)


@dataclass
class Identity:
    """An account as its summary names it, with that first answer kept for loading."""

    account_id: int
    currency: str
    summary: ApiResponse
    stats_before: EndpointStats


def identify(client: T212Client, account: AccountConfig) -> Identity:
    """Fetch the account summary, which names the account id and currency."""
    path = RESOURCES["account_summary"].path
    before = copy_stats(client.stats.get(path))
    summary = client.get(path)
    try:
        account_id, currency = account_identity(summary.data)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedResponse(
            f"account {account.name}: the account summary names no account id "
            f"({client.redactor.quote(str(exc))})",
            path=path,
        ) from None
    return Identity(account_id, currency, summary, before)


@dataclass(frozen=True)
class RunPlan:
    """What every account of a run exports, into which warehouse, and by which runner."""

    wh: Warehouse
    ctx: RunContext
    resources: list[str]
    claims: ReferenceClaims
    run_resource: ResourceRunner = export_resource


def export_account(
    client: T212Client, plan: RunPlan, account: AccountConfig, identity: Identity
) -> AccountResult:
    """Export the selected resources of one account; a failing resource does not stop the rest.

    The history endpoints have a rate limit each, so they are fetched at once, one thread
    per resource, while the other resources go one after another in run order; CSV
    reports once the history is in.
    """
    result = AccountResult(account.name, identity.account_id, identity.currency)
    ctx, claims = plan.ctx, plan.claims
    names = [
        name
        for name in plan.resources
        if RESOURCES[name].kind != Kind.REFERENCE or claims.claim(name)
    ]

    def one(name: str) -> ResourceResult:
        first = {}
        if name == "account_summary":
            first = {"first_page": identity.summary, "stats_before": identity.stats_before}
        try:
            job = Job(client, plan.wh, RESOURCES[name], identity.account_id, ctx)
            return plan.run_resource(job, **first)
        except Exception as exc:  # one resource's failure must not stop the others
            outcome = failed_result(name, identity.account_id, exc, client.redactor)
            log.error("account %s, %s: %s", account.name, name, outcome.error)
            return outcome

    history = [name for name in names if RESOURCES[name].kind == Kind.HISTORY]
    # reports go last: which years they need depends on how far back the history reaches
    last = [name for name in names if RESOURCES[name].kind == Kind.REPORTS]
    with ThreadPoolExecutor(max_workers=max(1, len(history))) as pool:
        # each thread runs in a copy of this context, so Prefect nests its task runs here
        futures = {n: pool.submit(contextvars.copy_context().run, one, n) for n in history}
        outcomes = {name: one(name) for name in names if name not in futures and name not in last}
        outcomes |= {name: future.result() for name, future in futures.items()}
    outcomes |= {name: one(name) for name in last}
    for name in names:
        result.resources.append(outcomes[name])
        _report(account.name, outcomes[name], ctx)
    result.rate_limits = client.limiter.announced()
    return result


def _report(account: str, outcome: ResourceResult, ctx: RunContext) -> None:
    if outcome.outcome == "failed":
        return
    for problem in outcome.problems[:20]:
        log.warning("account %s, %s: skipped a record: %s", account, outcome.resource, problem)
    for notice in sorted(outcome.notices):
        log.warning("account %s, %s: %s", account, outcome.resource, notice)
    new = sorted(f"{outcome.resource}.{f}" for f in outcome.unknown_fields)
    for name in (n for n in new if n not in ctx.reported_fields):
        ctx.reported_fields.add(name)
        log.warning("new API field %s: not in the table catalogue, not loaded", name)
    rows = {t: c.read for t, c in outcome.counts.items()}
    log.info(
        "account %s, %s: %s; %d pages, rows %s, %d requests, %.1fs waited",
        account,
        outcome.resource,
        outcome.outcome,
        outcome.pages,
        rows,
        outcome.stats.requests,
        outcome.stats.wait_seconds,
    )


def now_utc() -> datetime:
    """The current time in UTC (one place, so a run has one clock)."""
    return datetime.now(UTC)
