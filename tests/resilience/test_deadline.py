"""The run's time limit: past it the run stops cleanly, keeping what it committed."""

from __future__ import annotations

import dataclasses

import pytest

from flows.pipeline.run import RunOptions, run_export
from flows.pipeline.settings import load_settings
from sandbox import Sandbox
from tests.flows.harness import FAST_RETRY, db_contents, export, sandbox_config, settings_for

# 'slow' holds a request 16,000 s of sandbox time: 8 s here, past the 3 s limit below
LIMIT_SECONDS = 3.0
ORDERS = "/api/v0/equity/history/orders"


@pytest.mark.slow  # whole exports
def test_a_run_past_its_time_limit_keeps_what_it_committed_then_the_next_completes(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config(slow_seconds=16_000)) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        orders_before = db_contents(data_dir, "orders")
        cursor_before = db_contents(data_dir, "load_state", "WHERE resource = 'orders'")
        dividends_before = len(db_contents(data_dir, "dividends"))
        sb.advance(days=40)
        sb.inject("slow", ORDERS, times=1000)
        limited = dataclasses.replace(settings, run_time_limit_hours=LIMIT_SECONDS / 3600)
        summary = run_export(limited, RunOptions(client_options={"retry": FAST_RETRY}))
        errors = summary.errors()
        assert summary.exit_code == 1
        assert len(errors) == 1 and "orders" in errors[0] and "time limit" in errors[0], errors
        assert "\n" not in errors[0]
        assert summary.seconds < LIMIT_SECONDS + 4
        assert db_contents(data_dir, "orders") == orders_before
        assert db_contents(data_dir, "load_state", "WHERE resource = 'orders'") == cursor_before
        assert len(db_contents(data_dir, "dividends")) > dividends_before, "dividends committed"
        sb.clear_faults()
        assert export(settings).exit_code == 0
        assert len(db_contents(data_dir, "orders")) > len(orders_before)


def test_the_time_limit_setting(tmp_path):
    env = {"T212_API_KEY": "k", "T212_API_SECRET": "s"}
    assert load_settings(environ=env, cwd=tmp_path).run_time_limit_hours == 23.0
    (tmp_path / "t212-etl.toml").write_text("[export]\nrun_time_limit_hours = 0\n")
    assert load_settings(environ=env, cwd=tmp_path).run_time_limit_hours is None
