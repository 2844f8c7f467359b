"""Sandbox warehouses for report and documentation tests: nightly runs on several days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.pipeline import run as run_module
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxSize
from tests.flows.harness import export, sandbox_config, settings_for

RUN_EVERY_DAYS = 30
RUNS = 3
NO_DIVIDENDS = SandboxSize(instruments=100, positions=6, dividends=0, orders=30, transactions=25)


def build_warehouse(data_dir: Path, runs: int = RUNS, with_reports: bool = False) -> datetime:
    """Export the two sandbox accounts with ``runs`` runs a month apart, the last one now.

    The sandbox's history ends today, so trailing-twelve-month figures have data,
    and the run clock is moved with it, so each run leaves its own daily snapshot.
    With ``with_reports`` every run also imports the accounts' CSV reports.
    Returns the time of the last run.
    """
    now = datetime.now(UTC)
    first = now - timedelta(days=RUN_EVERY_DAYS * (runs - 1))
    today = first.replace(hour=0, minute=0, second=0, microsecond=0)
    with (
        pytest.MonkeyPatch.context() as patch,
        Sandbox(sandbox_config(two_accounts=True, now=today)) as sb,
    ):
        settings = settings_for(sb, data_dir, names=("invest", "isa"))
        for run in range(runs):
            clock = first + timedelta(days=RUN_EVERY_DAYS * run)
            patch.setattr(run_module, "now_utc", lambda clock=clock: clock)
            assert export(settings, with_reports=with_reports).exit_code == 0
            if run < runs - 1:
                sb.advance(RUN_EVERY_DAYS)
    return first + timedelta(days=RUN_EVERY_DAYS * (runs - 1))


def build_dividend_free_warehouse(data_dir: Path) -> None:
    """Export one small sandbox account that never received a dividend."""
    spec = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=NO_DIVIDENDS)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with Sandbox(sandbox_config(accounts=(spec,), now=today)) as sb:
        assert export(settings_for(sb, data_dir)).exit_code == 0
