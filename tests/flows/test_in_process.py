"""Without a Prefect API, `run` is the pipeline in-process: no server, no Prefect import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flows.app.cli import main
from flows.app.prefect_api import api_configured
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import cli_env, sandbox_config, scalar

REMOTE = 'active = "remote"\n[profiles.remote]\nPREFECT_API_URL = "http://10.0.0.9:4200/api"\n'


@pytest.mark.parametrize(
    ("environ", "profiles", "expected"),
    [
        ({"PREFECT_API_URL": "http://127.0.0.1:4200/api"}, None, True),
        ({"PREFECT_API_URL": ""}, REMOTE, False),  # the environment wins over the profile
        ({}, None, False),  # Prefect never configured: it would start a temporary server
        ({}, REMOTE, True),
        ({"PREFECT_PROFILE": "local"}, None, True),  # Prefect's own profile naming its API
        ({"PREFECT_PROFILE": "ephemeral"}, REMOTE, False),
    ],
)
def test_a_prefect_api_is_found_in_the_environment_or_the_active_profile(
    tmp_path, environ, profiles, expected
):
    home = tmp_path / "prefect-home"
    if profiles is not None:
        home.mkdir()
        (home / "profiles.toml").write_text(profiles)
    assert api_configured({**environ, "PREFECT_HOME": str(home)}, cwd=tmp_path) is expected


RUN = """
import sys
from flows.app.cli import main
code = main(sys.argv[1:])
print("PREFECT LOADED", any(m.split(".")[0] == "prefect" for m in sys.modules))
sys.exit(code)
"""


def test_run_without_a_prefect_api_exports_in_process_and_never_imports_prefect(tmp_path):
    home, data_dir = tmp_path / "prefect-home", tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        env = cli_env(
            {
                "T212_API_KEY": DEMO_KEY,
                "T212_API_SECRET": DEMO_SECRET,
                "T212_BASE_URL": sb.base_url,
                "PREFECT_HOME": str(home),
            }
        )
        env.pop("PREFECT_API_URL", None)
        done = subprocess.run(
            [sys.executable, "-c", RUN, "run", "--data-dir", str(data_dir)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PREFECT LOADED False" in done.stdout
    assert ": success in " in done.stdout and "dividends" in done.stdout
    assert not home.exists(), "no Prefect server or database was started"
    assert scalar(data_dir, "SELECT outcome FROM runs") == "success"
    assert scalar(data_dir, "SELECT count(*) FROM dividends") > 0


def test_secret_blocks_without_a_prefect_api_are_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.chdir(tmp_path)
    Path("t212-etl.toml").write_text(
        '[[accounts]]\nname = "isa"\nkey_block = "t212-isa-key"\nsecret_block = "t212-isa-secret"\n'
    )
    assert main(["run", "--data-dir", "data"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "t212-isa-key, t212-isa-secret" in err
    assert "PREFECT_API_URL" in err and "--prefect" in err
    assert not Path("data").exists() and not (tmp_path / "prefect-home").exists()
