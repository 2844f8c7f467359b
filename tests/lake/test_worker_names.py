"""Each worker its own database in the lake, for every command; no account takes a reserved name."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.app.cli import main
from flows.pipeline.settings import SettingsError, load_settings
from sandbox import Sandbox
from tests.flows.harness import ACCOUNT_IDS, KEYS, export, settings_for
from tests.lake.checks import deposits_csv, read_bytes, tiny_sandbox_config
from tests.lake.test_workers import ACCOUNT
from warehouse.objectstore import ObjectStore
from warehouse.uploads import WORKER_FILE, record_worker, recorded_worker


def write_config(path: Path, base_url: str, names=("invest", "isa")) -> Path:
    """A config naming the sandbox accounts ``names``."""
    text = ""
    for name in names:
        key_env, secret_env, _, _ = KEYS[name]
        text += ACCOUNT.format(name=name, url=base_url, key_env=key_env, secret_env=secret_env)
    path.write_text(text)
    return path


def databases(url: str) -> dict[str, bytes]:
    """The workers' databases in the store, by key."""
    store = ObjectStore(url)
    return {key: read_bytes(store, key) for key in sorted(store.list("duckdb/"))}


def test_import_and_rebuild_publish_the_database_of_the_group_that_runs_there(tmp_path):
    url = f"file://{tmp_path / 'store'}"
    data_dir = tmp_path / "wA"
    with Sandbox(tiny_sandbox_config()) as sb:
        config = write_config(tmp_path / "t212-etl.toml", sb.base_url)
        settings = settings_for(sb, data_dir, ("invest", "isa"), storage_url=url)
        assert export(settings, account_names=["isa"], only=["positions"]).exit_code == 0
    first = databases(url)
    assert list(first) == ["duckdb/isa.duckdb"]
    common = ["--config", str(config), "--data-dir", str(data_dir), "--storage-url", url]
    csv = str(deposits_csv(tmp_path / "deposits.csv"))
    assert main(["import-csv", *common, "--account-id", str(ACCOUNT_IDS["isa"]), csv]) == 0
    after_import = databases(url)
    assert list(after_import) == ["duckdb/isa.duckdb"]
    assert after_import["duckdb/isa.duckdb"] != first["duckdb/isa.duckdb"]
    assert main(["rebuild", *common]) == 0
    assert list(databases(url)) == ["duckdb/isa.duckdb"]


@pytest.mark.parametrize("name", ["warehouse", "Warehouse"])
def test_an_account_may_not_take_the_all_accounts_name(tmp_path, name):
    config = tmp_path / "t212-etl.toml"
    config.write_text(
        ACCOUNT.format(name=name, url="https://demo.trading212.com", key_env="K", secret_env="S")
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(config=config, environ={})
    message = str(refused.value)
    assert "\n" not in message and name in message and "rename" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("../../x", None), ("", None), ("a/b", None), ("\x1b[2J", None), ("isa\n", "isa")],
)
def test_only_a_worker_name_is_read_back_from_the_record(tmp_path, text, expected):
    (tmp_path / WORKER_FILE).write_text(text)
    assert recorded_worker(tmp_path) == expected
    record_worker(tmp_path, "isa+invest")
    assert recorded_worker(tmp_path) == "isa+invest"
    assert (tmp_path / WORKER_FILE).stat().st_mode & 0o777 == 0o600
