"""The nightly deployment registered on a Prefect work pool, with its schedule and names only."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.app.deployment import DEPLOYMENT_NAME, Nightly, deploy_to_pool, local_timezone
from tests.flows.harness import run_cli

# one worker runs every test that uses the shared Prefect server, so it starts once
pytestmark = pytest.mark.xdist_group("prefect")

REPO = Path(__file__).resolve().parents[2]


def test_deployment_on_a_work_pool(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="t212-test-pool", type="process"))
    nightly = Nightly(
        cron="30 2 * * *",
        timezone="Europe/London",
        parameters={"data_dir": str(tmp_path), "config": None},
    )
    deployment_id = deploy_to_pool(nightly, pool="t212-test-pool", source=REPO)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    assert deployment.name == DEPLOYMENT_NAME
    assert deployment.work_pool_name == "t212-test-pool"
    assert deployment.entrypoint == "flows/pipeline/flow.py:nightly_export"
    assert deployment.parameters == {"data_dir": str(tmp_path), "config": None}
    (only,) = deployment.schedules
    assert only.schedule.cron == "30 2 * * *" and only.schedule.timezone == "Europe/London"


def test_serve_pool_command_prints_the_worker_command(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="t212-cli-pool", type="process"))
    code, out, err = run_cli(
        "serve", "--pool", "t212-cli-pool", "--source", str(REPO), "--data-dir", str(tmp_path)
    )
    assert code == 0, err
    assert "prefect worker start --pool t212-cli-pool" in out
    assert local_timezone()


def test_credentials_from_prefect_secret_blocks(prefect_harness, tmp_path):
    from prefect.blocks.system import Secret

    from flows.pipeline.settings import SettingsError, load_settings

    Secret(value="block-key-value").save("t212-test-key", overwrite=True)
    Secret(value="block-secret-value").save("t212-test-secret", overwrite=True)
    (tmp_path / "t212-etl.toml").write_text(
        '[[accounts]]\nname = "isa"\nkey_block = "t212-test-key"\n'
        'secret_block = "t212-test-secret"\n'
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    creds = settings.account("isa").credentials(settings.environ)
    assert (creds.key, creds.secret) == ("block-key-value", "block-secret-value")
    assert "block-key-value" not in repr(settings) + repr(creds)
    (tmp_path / "t212-etl.toml").write_text(
        '[[accounts]]\nname = "isa"\nkey_block = "no-such-block"\nsecret_env = "S"\n'
    )
    broken = load_settings(environ={"S": "s"}, cwd=tmp_path)
    with pytest.raises(SettingsError, match="cannot read the Prefect Secret block 'no-such-block'"):
        broken.account("isa").credentials(broken.environ)


def test_one_deployment_per_group_of_accounts_with_the_storage_url(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="t212-group-pool", type="process"))
    config = tmp_path / "t212-etl.toml"
    config.write_text(
        'storage_url = "s3://household-lake/t212"\n'
        + "".join(
            f'[[accounts]]\nname = "{n}"\nkey_env = "K_{n}"\nsecret_env = "S_{n}"\n'
            for n in ("mum", "dad", "kid")
        )
    )
    common = ("serve", "--pool", "t212-group-pool", "--source", str(REPO), "--config", str(config))
    data = tmp_path / "data"
    for group in (("dad", "mum"), ("kid",)):
        accounts = [arg for name in group for arg in ("--account", name)]
        code, _, err = run_cli(*common, "--data-dir", str(data), *accounts)
        assert code == 0, err
    with get_client(sync_client=True) as client:
        found = {
            d.name: d.parameters
            for d in client.read_deployments()
            if d.work_pool_name == "t212-group-pool"
        }
    assert found == {
        f"{DEPLOYMENT_NAME}-dad+mum": {
            "data_dir": str(data.resolve() / "groups" / "dad+mum"),
            "config": str(config),
            "storage_url": "s3://household-lake/t212",
            "accounts": ["dad", "mum"],
        },
        f"{DEPLOYMENT_NAME}-kid": {
            "data_dir": str(data.resolve() / "groups" / "kid"),
            "config": str(config),
            "storage_url": "s3://household-lake/t212",
            "accounts": ["kid"],
        },
    }
    code, _, err = run_cli(*common, "--account", "nobody")
    assert code == 2 and "unknown account 'nobody'" in err
