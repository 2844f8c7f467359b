"""A whole run: settings to clients, every account, the run log, publishing and the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import duckdb

from extractors.client import T212Client
from extractors.errors import ConfigurationError, T212Error
from flows.pipeline.account import (
    AccountResult,
    Identity,
    ReferenceClaims,
    ResourceRunner,
    RunPlan,
    build_client,
    export_account,
    identify,
    now_utc,
    select_resources,
)
from flows.pipeline.context import ReportOptions, RunContext, new_run_id
from flows.pipeline.portfolio import refresh_portfolio_step
from flows.pipeline.progress import active as active_progress
from flows.pipeline.rebuild import replay_stale
from flows.pipeline.resource import export_resource
from flows.pipeline.results import stopped_earlier
from flows.pipeline.settings import (
    DEFAULT_PARALLEL_ACCOUNTS,
    AccountConfig,
    Settings,
    SettingsError,
)
from flows.pipeline.storage import publisher_for
from warehouse import Warehouse, WarehouseLocked
from warehouse.leases import AccountBusy
from warehouse.objectstore import ObjectStoreError

AccountJob = Callable[[], AccountResult]
# a runner gets the jobs and how many of them may run at once
JobRunner = Callable[[Sequence[tuple[str, AccountJob]], int], list[AccountResult]]


@dataclass
class RunSummary:
    """The outcome of a run, as the run log and the exit code see it."""

    run_id: str
    accounts: list[AccountResult] = field(default_factory=list)
    seconds: float = 0.0
    publish_errors: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``success``, ``partial`` (something failed, the rest committed) or ``failed``."""
        failed = [a for a in self.accounts if a.failed]
        if not failed:
            return "partial" if self.publish_errors else "success"
        return (
            "failed"
            if len(failed) == len(self.accounts)
            and all(a.error or all(r.outcome == "failed" for r in a.resources) for a in failed)
            else "partial"
        )

    @property
    def exit_code(self) -> int:
        """0 when everything succeeded, 1 when something failed (the rest is committed)."""
        return 0 if self.outcome == "success" else 1

    def errors(self) -> list[str]:
        """One line per failure."""
        lines = [a.error for a in self.accounts if a.error]
        for a in self.accounts:
            lines += [f"account {a.name}, {r.resource}: {r.error}" for r in a.resources if r.error]
        publish = list(dict.fromkeys(self.publish_errors))
        # one cause, one line: a store that could not be read for the catch-up is named
        # again by the publish that failed on it
        return lines + [e for e in publish if not any(e != o and e in o for o in publish)]


class CredentialsRefused(Exception):
    """Every account was refused before anything was written (bad key, scope or setup)."""


# Errors that stop a run before it exports anything: reported in one line, exit code 2.
NOTHING_EXPORTED = (
    CredentialsRefused,
    WarehouseLocked,
    SettingsError,
    ConfigurationError,
    AccountBusy,
)


def run_threads(
    jobs: Sequence[tuple[str, AccountJob]], limit: int = DEFAULT_PARALLEL_ACCOUNTS
) -> list[AccountResult]:
    """Run account jobs in threads, at most ``limit`` at once (each account has its own
    rate limits, so they wait side by side)."""
    if len(jobs) == 1:
        return [jobs[0][1]()]
    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(jobs)))) as pool:
        return list(pool.map(lambda job: job[1](), jobs))


def identify_accounts(
    settings: Settings, names: Sequence[str] | None, client_options: dict | None
) -> tuple[dict[str, T212Client], dict[str, Identity], list[AccountResult]]:
    """Build clients and identify each account; accounts refused here are returned as failed."""
    accounts = [settings.account(n) for n in names] if names else list(settings.accounts)
    clients, identities, refused = {}, {}, []
    built = []
    for account in accounts:
        try:
            built.append((account, build_client(account, settings, **(client_options or {}))))
        except SettingsError as exc:
            refused.append(AccountResult(account.name, error=str(exc)))
    # one request per account, each on its own key: sequential, 50 round trips add up
    workers = max(1, min(settings.parallel_accounts, len(built)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda pair: _identify_or_refuse(pair[1], pair[0]), built))
    first_named: dict[int, str] = {}
    for (account, client), outcome in zip(built, outcomes, strict=True):
        if not isinstance(outcome, AccountResult):
            outcome = _one_entry_per_account(account, outcome, first_named)
        if isinstance(outcome, AccountResult):
            client.close()
            refused.append(outcome)
        else:
            identities[account.name] = outcome
            clients[account.name] = client
    if not identities:
        raise CredentialsRefused("; ".join(r.error or "" for r in refused))
    return clients, identities, refused


def _one_entry_per_account(
    account: AccountConfig, identity: Identity, first_named: dict[int, str]
) -> Identity | AccountResult:
    """The identity, or a refusal when an earlier entry's key reached the same account.

    Rate limits are per account, not per key. Two entries of one account would fetch the
    same rows twice from one budget and write one account's cursors from two exports, so
    the later entry is refused rather than given a share of the first one's limiter.
    """
    first = first_named.setdefault(identity.account_id, account.name)
    if first == account.name:
        return identity
    return AccountResult(
        account.name,
        error=f"account {account.name}: its key opens account {identity.account_id}, as "
        f"account {first}'s does; skipped (one account, one rate limit): keep one entry",
    )


def _identify_or_refuse(client: T212Client, account: AccountConfig) -> Identity | AccountResult:
    """The account's identity, or a failed result naming why it was refused."""
    try:
        return identify(client, account)
    except T212Error as exc:
        return AccountResult(account.name, error=f"account {account.name}: {exc}")


@dataclass(frozen=True)
class RunOptions:
    """What a run exports and within which limits (None: as the settings say).

    ``client_options`` go to every account's client and ``ctx_options`` to the run's
    context (retries, transports, chunk sizes: what tests and benchmarks tune).
    """

    account_names: Sequence[str] | None = None  # None: every configured account
    only: Sequence[str] | None = None  # None: every resource run by default
    full_refresh: bool = False
    with_reports: bool | None = None
    backfill_reports: bool = False  # only the reports reaching back past the API's history
    lock_timeout: float = 0.0
    time_limit_hours: float | None = None  # 0: none
    client_options: Mapping[str, Any] | None = None
    ctx_options: Mapping[str, Any] | None = None


def run_export(
    settings: Settings,
    options: RunOptions = RunOptions(),
    *,
    runner: JobRunner = run_threads,
    resource_runner: ResourceRunner = export_resource,
) -> RunSummary:
    """Export every selected account into the warehouse and publish it.

    Past the time limit (``time_limit_hours``, 0 for none, or else the setting) the
    client sends nothing more: resources not yet read fail with one line, the rest stay.

    Raises CredentialsRefused, before anything is written, when no account can be read.
    ``with_reports`` None follows the setting ``[export] with_reports``;
    ``backfill_reports`` takes the reports that reach back past the API's history instead.
    """
    account_names, time_limit_hours = options.account_names, options.time_limit_hours
    reports = settings.with_reports if options.with_reports is None else options.with_reports
    resources = select_resources(options.only, reports or options.backfill_reports)
    started = now_utc()
    progress = active_progress()
    client_options = dict(options.client_options or {})
    if progress is not None:
        client_options.setdefault("on_wait", progress.wait)
    limit = settings.run_time_limit_hours if time_limit_hours is None else time_limit_hours
    if limit:
        client_options.setdefault("deadline", time.time() + limit * 3600)
    publisher = publisher_for(settings, account_names)
    clients, identities, refused = identify_accounts(settings, account_names, client_options)
    ctx = RunContext(
        run_id=new_run_id(started),
        started_at=started,
        full_refresh=options.full_refresh,
        reference_max_age=timedelta(hours=settings.reference_max_age_hours),
        overlap=timedelta(days=settings.overlap_days),
        progress=progress,
        **{
            "reports": ReportOptions(
                start_year=settings.reports_start_year, backfill=options.backfill_reports
            ),
            **(options.ctx_options or {}),
        },
    )
    summary = RunSummary(ctx.run_id, accounts=list(refused))
    clock = time.monotonic()
    claims = ReferenceClaims()
    try:
        with (
            publisher.held({i.account_id: name for name, i in identities.items()}),
            Warehouse.open(
                settings.data_dir,
                lock_timeout=options.lock_timeout,
                views=False,
                publisher=publisher,
            ) as wh,
            ThreadPoolExecutor(max_workers=1) as aside,
        ):
            replay_stale(wh)  # only after an upgrade that re-keyed a table
            held = [i.account_id for i in identities.values()]
            summary.publish_errors += _lake_step(lambda: wh.catch_up(held))
            # the run log row, the views and the Parquet repair need no request: they are
            # done beside the accounts, so the rate-limited history starts without them
            prepared = aside.submit(prepare_warehouse, wh, ctx)
            plan = RunPlan(wh, ctx, resources, claims, resource_runner)
            jobs = [
                (
                    name,
                    lambda name=name: export_account(
                        clients[name], plan, settings.account(name), identities[name]
                    ),
                )
                for name in identities
            ]
            summary.accounts += runner(jobs, settings.parallel_accounts)
            summary.publish_errors += prepared.result()
            summary.publish_errors += refresh_portfolio_step(
                wh, run_id=ctx.run_id, loaded_at=ctx.started_at,
                base_currency=settings.base_currency,
                wrappers={i.account_id: settings.account(name).wrapper
                          for name, i in identities.items()},
            )  # fmt: skip
            publisher.reconnect()  # a store that stopped answering mid-run: one more try
            summary.seconds = time.monotonic() - clock
            run_log = partial(record_run_log, wh, ctx, summary)
            # the run log is published with the tables (a lake: in the same round of
            # commits); a publish that fails is written to it, for the next publish
            summary.publish_errors += _record_step(run_log, "the run log")
            failed = _publish_step(wh.publish_parquet)
            if failed:
                summary.publish_errors += failed
                summary.publish_errors += _record_step(run_log, "the run log")
            # nothing uses the database after this: no need to reopen it
            summary.publish_errors += _publish_step(lambda: wh.publish(reopen=False))
    finally:
        for client in clients.values():
            client.close()
        if progress is not None:
            progress.done()
    return summary


def prepare_warehouse(wh: Warehouse, ctx: RunContext) -> list[str]:
    """Log the run as running, create the views and repair Parquet; returns write errors.

    Safe beside the accounts' exports: the run log row and the views are written on
    cursors of their own, and the repair holds the warehouse's lock.
    """
    started = {"started_at": ctx.started_at, "outcome": "running"}
    errors = _record_step(lambda: wh.run_log.record_run(ctx.run_id, **started), "the run log")
    errors += _record_step(wh.create_views, "the views")
    return errors + _publish_step(wh.repair_parquet)


def _publish_step(step: Callable[[], object]) -> list[str]:
    """Run a publishing step; a write error (a full disk) is reported, and the work stays
    pending in the database for the next run."""
    try:
        reason = _write_error(step)
    except ObjectStoreError as exc:
        return [
            f"publishing failed ({exc}); the committed data stays and is published by the next run"
        ]
    if reason is None:
        return []
    return [
        f"publishing failed ({reason}); the committed data is published by the next run "
        "once there is room"
    ]


def _lake_step(step: Callable[[], object]) -> list[str]:
    """Catch up from the lake; a store that cannot be read is reported, and the run goes
    on: its publishing adds to the lake and removes nothing."""
    try:
        step()
    except ObjectStoreError as exc:
        return [str(exc)]
    return []


def _record_step(step: Callable[[], object], what: str) -> list[str]:
    """Write the run log or the views; a write error (a full disk) is reported, and what
    the resources committed stays committed."""
    try:
        reason = _write_error(step)
    except ObjectStoreError as exc:
        return [str(exc)]
    if reason is None:
        return []
    return [f"{what} could not be written ({reason}): check the disk; committed data is safe"]


def _write_error(step: Callable[[], object]) -> str | None:
    """Run ``step``; the first line of its write error (a full disk), or None. A store's
    error is raised: it is not about room."""
    try:
        step()
    except ObjectStoreError:
        raise
    except (OSError, duckdb.Error) as exc:
        if stopped_earlier(exc):
            return None  # the write that stopped the database reports the cause itself
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return text.splitlines()[0] if text else type(exc).__name__
    return None


def record_run_log(wh: Warehouse, ctx: RunContext, summary: RunSummary) -> None:
    """Write a run_resources row per account and resource, and the runs row, at once."""
    totals = {"requests": 0, "retries": 0, "rate_limited": 0, "wait_seconds": 0.0}
    rows = []
    for account in summary.accounts:
        for r in account.resources:
            s = r.stats
            row = {
                "outcome": r.outcome,
                "counts": r.counts,
                "finished_at": now_utc(),
                "requests": s.requests,
                "retries": s.retries,
                "rate_limited": s.rate_limited,
                "wait_seconds": s.wait_seconds,
                "duration_seconds": r.seconds,
                "error": r.error,
            }
            rows.append((r.account_id, r.resource, row))
            totals["requests"] += s.requests
            totals["retries"] += s.retries
            totals["rate_limited"] += s.rate_limited
            totals["wait_seconds"] += s.wait_seconds
    errors = summary.errors()
    limits = [
        (account.account_id, endpoint, seen, documented)
        for account in summary.accounts
        if account.account_id is not None
        for endpoint, (seen, documented) in account.rate_limits.items()
    ]
    wh.run_log.record_run_log(
        ctx.run_id,
        rows,
        limits,
        started_at=ctx.started_at,
        finished_at=now_utc(),
        outcome=summary.outcome,
        accounts=[a.account_id for a in summary.accounts if a.account_id is not None],
        duration_seconds=summary.seconds,
        error="; ".join(errors)[:2000] if errors else None,
        **totals,
    )
