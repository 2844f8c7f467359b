"""Sandbox warehouses for report and documentation tests: nightly runs on several days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from flows.pipeline import run as run_module
from flows.pipeline.imports import import_reports
from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    Sandbox,
    SandboxSize,
)
from tests.flows.downloads import download_report
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


def build_imported_warehouse(data_dir: Path, folder: Path, years: int = 3) -> datetime:
    """A warehouse made only of the ISA account's CSV reports, as a user who never ran
    an export would have: the last ``years`` years, one report a year, imported at once.
    Returns the end of the last report."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + timedelta(days=1)
    paths = []
    with (
        Sandbox(sandbox_config(two_accounts=True, now=today)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_ISA_KEY, DEMO_ISA_SECRET)) as client,
    ):
        for n in range(years):
            time_to = end - timedelta(days=365 * n)
            time_from = (time_to - timedelta(days=365)).isoformat()
            path = folder / f"report-{n}.csv"
            paths.append(download_report(client, time_from, time_to.isoformat(), path))
    import_reports(data_dir, paths, account_id=DEMO_ISA_ACCOUNT_ID)
    return end
