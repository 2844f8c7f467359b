"""The nightly path at a size beyond DuckDB's memory limit: it completes, exactly.

Earlier versions capped DuckDB at 256 MB and kept a primary key index on every data
table: a first export of a long history failed with "Out of Memory" and failed again on
every later run. Here DuckDB gets 24 MB, which such a history overflowed many times over.
"""

from __future__ import annotations

import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxSize
from tests.flows.harness import assert_parquet_equals_duckdb, export, sandbox_config, settings_for
from tests.flows.test_export_sandbox import assert_matches_truth
from warehouse.memory import MEMORY_ENV

BIG = SandboxSize(instruments=200, positions=10, dividends=15_000, orders=6_000, transactions=4_000)


@pytest.mark.slow  # a history beyond the memory limit
def test_a_history_beyond_the_memory_limit_exports_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "24MB")
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=BIG)
    with Sandbox(sandbox_config(accounts=(account,), time_scale=1e-6)) as sb:
        settings = settings_for(sb, tmp_path)
        first = export(settings)
        assert first.exit_code == 0, first.errors()
        assert_matches_truth(tmp_path, sb.truth(DEMO_ACCOUNT_ID), DEMO_ACCOUNT_ID)
        sb.advance(days=30)
        again = export(settings)
        assert again.exit_code == 0, again.errors()
        # the reference lists are fresh for 12 h, so they are not fetched again
        truth = sb.truth(DEMO_ACCOUNT_ID)
        assert_matches_truth(tmp_path, truth, DEMO_ACCOUNT_ID, reference=False)
    assert_parquet_equals_duckdb(tmp_path)
