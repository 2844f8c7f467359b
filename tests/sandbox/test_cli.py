"""The sandbox command: options, printed instructions, serving until stopped."""

from __future__ import annotations

import argparse
import io
import threading
import time

import httpx
import pytest

from sandbox import DEMO_ISA_KEY, DEMO_KEY, DEMO_SECRET
from sandbox.cli import add_arguments, config_from, run_foreground


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_and_options_build_the_config() -> None:
    defaults = config_from(_parse())
    assert (defaults.host, defaults.seed, defaults.time_scale) == ("127.0.0.1", 212, 1.0)
    args = _parse("--port", "0", "--seed", "7", "--dividends", "10", "--time-scale", "0.01")
    config = config_from(args)
    assert config.seed == 7 and config.time_scale == 0.01
    assert config.accounts[0].size.dividends == 10
    assert [a.key for a in config.accounts] == [DEMO_KEY, DEMO_ISA_KEY]
    assert (defaults.slow_seconds, defaults.drip_seconds) == (30.0, 1.0)
    assert config_from(_parse("--drip-seconds", "0.2")).drip_seconds == 0.2


def test_bad_fault_rate_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        _parse("--fault-rate", "meteor=0.1")
    assert _parse("--fault-rate", "503=0.25").fault_rate == [("503", 0.25)]


def test_run_foreground_prints_url_keys_and_env_then_serves() -> None:
    out = io.StringIO()
    stop = threading.Event()
    args = _parse("--port", "0", "--time-scale", "0.001", "--fault-rate", "e500=0")
    thread = threading.Thread(target=run_foreground, args=(args, out, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = out.getvalue()
    url = text.split("T212_BASE_URL=")[1].split()[0]
    assert url.startswith("http://127.0.0.1:")
    assert f"T212_API_KEY={DEMO_KEY}" in text and f"T212_API_SECRET={DEMO_SECRET}" in text
    assert DEMO_ISA_KEY in text
    response = httpx.get(url + "/api/v0/equity/account/summary", auth=(DEMO_KEY, DEMO_SECRET))
    assert response.status_code == 200
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/v0/equity/account/summary")
