"""Prefect settings t212-etl chooses for the processes it starts, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
PROBE = f"import os, flows; print(os.environ['{TIMEOUT}'])"


@pytest.mark.parametrize(("given", "expected"), [(None, "90"), ("7", "7")])
def test_the_temporary_server_gets_time_for_a_first_start(given, expected):
    env = {k: v for k, v in os.environ.items() if k != TIMEOUT}
    if given is not None:
        env[TIMEOUT] = given
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("DO_NOT_TRACK", None, "1"),
        ("DO_NOT_TRACK", "0", "0"),
        ("PREFECT_SERVER_ANALYTICS_ENABLED", None, "false"),
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "true", "true"),
    ],
)
def test_usage_data_is_off_unless_the_user_turned_it_on(name, given, expected):
    env = {k: v for k, v in os.environ.items() if k != name}
    if given is not None:
        env[name] = given
    probe = f"import os, flows; print(os.environ['{name}'])"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
