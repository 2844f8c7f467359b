"""Two configured entries whose keys open one account: one export, one rate-limit budget."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.pipeline.settings import AccountConfig
from sandbox import DEMO_ACCOUNT_ID, Sandbox
from tests.flows.harness import export, sandbox_config, settings_for
from tests.flows.test_export_sandbox import assert_matches_truth

API = "/api/v0/equity"
HISTORY = ("dividends", "orders", "transactions")
SECOND = ("sandbox-second-key-invest-0000", "sandbox-second-secret-invest-0000")


@pytest.mark.slow  # whole exports
def test_a_second_key_of_one_account_is_refused_in_one_line(tmp_path):
    config = sandbox_config()
    invest = replace(config.accounts[0], other_keys=(SECOND,))
    with Sandbox(replace(config, accounts=(invest,))) as sb:
        settings = settings_for(sb, tmp_path)
        second = AccountConfig(
            "second", "demo", sb.base_url, key_env="T212_SECOND_KEY", secret_env="T212_SECOND"
        )
        settings = replace(
            settings,
            accounts=(*settings.accounts, second),
            environ={**settings.environ, "T212_SECOND_KEY": SECOND[0], "T212_SECOND": SECOND[1]},
        )
        summary = export(settings)
        truth = sb.truth(DEMO_ACCOUNT_ID)
        counts = sb.request_counts(DEMO_ACCOUNT_ID)
    results = {a.name: a for a in summary.accounts}
    assert results["invest"].error is None and not results["invest"].failed
    error = results["second"].error
    assert error is not None and "\n" not in error
    assert "second" in error and "invest" in error and str(DEMO_ACCOUNT_ID) in error
    assert results["second"].resources == []
    assert summary.exit_code == 1
    # the account's history was read once, by one export
    pages = {name: counts[f"{API}/history/{name}"] for name in HISTORY}
    assert pages == {name: -(-truth[name]["count"] // 50) for name in HISTORY}
    assert_matches_truth(tmp_path, truth, DEMO_ACCOUNT_ID)
