"""The Prefect flow against the sandbox: several accounts, a failing one, the artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.pipeline.run import RunSummary
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID, Sandbox
from tests.flows.harness import KEYS, run_cli, sandbox_config, scalar

# one worker runs every test that uses the shared Prefect server, so it starts once
pytestmark = pytest.mark.xdist_group("prefect")

CONFIG = """
[[accounts]]
name = "invest"
env = "demo"
base_url = "{url}"
key_env = "T212_TEST_INVEST_KEY"
secret_env = "T212_TEST_INVEST_SECRET"

[[accounts]]
name = "isa"
env = "demo"
base_url = "{url}"
key_env = "T212_TEST_ISA_KEY"
secret_env = "T212_TEST_ISA_SECRET"
"""
ENV = {}
for key_env, secret_env, key, secret in KEYS.values():
    ENV.update({key_env: key, secret_env: secret})
DIVIDENDS_OF = "SELECT count(*) FROM dividends WHERE account_id = ?"


@pytest.fixture
def two_accounts(tmp_path: Path, monkeypatch):
    """A running two-account sandbox, a config file naming both, keys in the environment."""
    with Sandbox(sandbox_config(two_accounts=True)) as sb:
        config = tmp_path / "t212-etl.toml"
        config.write_text(CONFIG.format(url=sb.base_url))
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        yield sb, tmp_path / "data", config


def latest_artifact() -> str:
    """The markdown of the newest run-log artifact."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["t212-etl-run"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return artifacts[0].data


def test_two_accounts_in_one_flow_run_with_artifact(prefect_harness, two_accounts):
    from flows.pipeline.flow import nightly_export

    sb, data_dir, config = two_accounts
    state = nightly_export(data_dir=str(data_dir), config=str(config), return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert isinstance(summary, RunSummary) and summary.exit_code == 0
    assert {a.account_id for a in summary.accounts} == {DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID}
    for account_id in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID):
        assert (
            scalar(data_dir, DIVIDENDS_OF, [account_id])
            == sb.truth(account_id)["dividends"]["count"]
        )
    markdown = latest_artifact()
    assert f"t212-etl run {summary.run_id}: success" in markdown
    for account in ("invest", "isa"):
        assert f"| {account} | dividends | success |" in markdown
    n = sb.truth(DEMO_ACCOUNT_ID)["dividends"]["count"]
    assert f"| invest | dividends | success | {n} | {n} | 0 |" in markdown


def test_a_bad_key_fails_its_account_while_the_other_lands(prefect_harness, two_accounts):
    _, data_dir, config = two_accounts
    env = {**ENV, "T212_TEST_ISA_SECRET": "not-the-secret"}
    code, _, err = run_cli("run", "--config", str(config), "--data-dir", str(data_dir), env=env)
    assert code == 1, err
    assert "account isa" in err and "401" in err and "live or demo" in err
    assert "Traceback" not in err
    assert scalar(data_dir, DIVIDENDS_OF, [DEMO_ACCOUNT_ID]) > 0
    assert scalar(data_dir, DIVIDENDS_OF, [DEMO_ISA_ACCOUNT_ID]) == 0
    assert scalar(data_dir, "SELECT outcome FROM runs") == "partial"
    markdown = latest_artifact()
    assert "partial" in markdown and "## Failures" in markdown and "account isa" in markdown


def test_missing_scope_fails_one_resource_with_exit_code_1(two_accounts):
    sb, data_dir, config = two_accounts
    scopes = ["account", "portfolio", "metadata", "history:orders", "history:transactions"]
    sb.set_key_scopes(KEYS["invest"][2], scopes)
    args = ("run", "--config", str(config), "--data-dir", str(data_dir), "--account", "invest")
    code, _, err = run_cli(*args, env=ENV)
    assert code == 1, err
    assert "lacks the scope 'history:dividends'" in err
    orders = sb.truth(DEMO_ACCOUNT_ID)["orders"]["count"]
    assert scalar(data_dir, "SELECT count(*) FROM orders") == orders
    assert scalar(data_dir, "SELECT count(*) FROM dividends") == 0


def test_every_key_refused_exits_2_and_writes_nothing(two_accounts):
    _, data_dir, config = two_accounts
    env = {**ENV, "T212_TEST_INVEST_SECRET": "wrong", "T212_TEST_ISA_SECRET": "wrong"}
    code, _, err = run_cli("run", "--config", str(config), "--data-dir", str(data_dir), env=env)
    assert code == 2, err
    assert err.strip().count("\n") == 0 and "401" in err
    assert not data_dir.exists()
