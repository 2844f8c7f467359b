"""`t212-etl run`: the export, in-process or as a Prefect flow run when a Prefect API is
configured or asked for; `demo` runs the pipeline the same way."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flows.pipeline.account import select_resources
from flows.pipeline.progress import Progress, activate
from flows.pipeline.run import NOTHING_EXPORTED, RunSummary
from flows.pipeline.settings import SettingsError, load_settings


class FlowError(Exception):
    """The run ended before exporting (bad credentials, locked warehouse); exit code 2."""


def run_here(
    data_dir: str,
    config: str | None = None,
    accounts: list[str] | None = None,
    storage_url: str | None = None,
    **options,
) -> RunSummary:
    """The pipeline in this process, no Prefect: what the flow runs, with the same summary."""
    from flows.pipeline.run import RunOptions, run_export

    try:
        settings = load_settings(data_dir=data_dir, config=config, storage_url=storage_url)
        return run_export(settings, RunOptions(account_names=accounts, **options))
    except NOTHING_EXPORTED as exc:
        raise FlowError(str(exc)) from None


def runner_for(prefect: bool = False):
    """The flow when asked (``--prefect``) or a Prefect API is configured, else in-process."""
    from flows.app.prefect_api import api_configured

    return run_flow if prefect or api_configured() else run_here


def check_secret_sources(accounts, via_prefect: bool) -> None:
    """Refuse, in one line, Prefect Secret blocks when no Prefect API holds them."""
    for account in accounts:
        blocks = [b for b in (account.key_block, account.secret_block) if b]
        if blocks and not via_prefect:
            raise SettingsError(
                f"account {account.name} reads its keys from Prefect Secret blocks "
                f"({', '.join(blocks)}): set PREFECT_API_URL to the Prefect server that holds "
                "them (or `prefect profile use` one that names it), or run with --prefect"
            )


def run_flow(**parameters) -> RunSummary:
    """Run `nightly_export` with names-only parameters and return its summary."""
    from flows.pipeline.flow import nightly_export

    state = nightly_export(**parameters, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RunSummary):
        return outcome
    if isinstance(outcome, NOTHING_EXPORTED):
        raise FlowError(str(outcome))
    if isinstance(outcome, BaseException):
        raise outcome
    raise FlowError(f"the flow ended in state {state.type.value}: {state.message}")


def print_summary(summary: RunSummary) -> None:
    """The run's figures as a table on stdout, failures on stderr."""
    from flows.app.output import format_table
    from flows.pipeline.summary import COLUMNS, summary_rows

    rows = summary_rows(summary)
    print(f"run {summary.run_id}: {summary.outcome} in {summary.seconds:.1f}s")
    print(format_table(COLUMNS, [[r.get(c) for c in COLUMNS] for r in rows]))
    for error in summary.errors():
        print(f"t212-etl: {error}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """Check the settings first (fast), then run the pipeline."""
    from flows.pipeline.storage import publisher_for

    settings = load_settings(
        data_dir=args.data_dir, config=args.config, storage_url=args.storage_url
    )
    publisher_for(settings)  # the lake's libraries are there before anything starts
    only = args.only.split(",") if args.only else None
    try:
        select_resources(only)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    runner = runner_for(args.prefect)
    accounts = [settings.account(n) for n in args.account or []] or settings.accounts
    check_secret_sources(accounts, runner is run_flow)
    for account in accounts:
        account.credentials(settings.environ)
    check_data_dir(settings.data_dir)
    activate(Progress())
    try:
        summary = runner(
            data_dir=str(settings.data_dir),
            config=args.config,
            accounts=args.account,
            storage_url=args.storage_url,
            only=only,
            full_refresh=args.full_refresh,
            with_reports=True if args.with_reports else None,
            backfill_reports=args.backfill_reports,
            lock_timeout=args.lock_timeout,
            time_limit_hours=args.time_limit,
        )
    except FlowError as exc:
        raise SettingsError(str(exc)) from None
    print_summary(summary)
    return summary.exit_code


def check_data_dir(data_dir: Path) -> None:
    """Refuse, before any work and without creating it, a data directory that cannot be used."""
    existing = data_dir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable by this user"
    if problem:
        raise SettingsError(
            f"data directory {data_dir} cannot be used ({problem}): choose another with "
            "--data-dir or T212_DATA_DIR"
        )
