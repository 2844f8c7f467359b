"""The benchmark harness at tiny sizes, so it never rots: every table written with its figures."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import main
from benchmarks.endtoend import Busy
from benchmarks.network import HISTORY, SNAPSHOTS, burst_floor_seconds, floor_seconds


def test_the_floor_counts_intervals_between_evenly_spaced_requests():
    assert floor_seconds(100, 6, 60.0) == 99 * 10.0
    assert floor_seconds(6, 6, 60.0) == 50.0
    assert floor_seconds(1, 1, 50.0) == 0.0


def test_the_burst_floor_counts_full_windows_before_the_last_burst():
    assert burst_floor_seconds(100, 6, 60.0) == 16 * 60.0  # pages 97-100 go in the 17th window
    assert burst_floor_seconds(6, 6, 60.0) == 0.0  # one burst
    assert burst_floor_seconds(7, 6, 0.6) == 0.6


def test_network_time_is_the_union_of_requests_and_waits():
    busy = Busy()
    for span in ((0.0, 1.0), (0.5, 2.0), (3.0, 3.5), (3.1, 3.2)):
        busy.add(*span)
    assert busy.seconds() == 2.5


@pytest.mark.slow  # the sandbox in a process of its own and a `t212-etl run` subprocess
def test_smoke_run_writes_every_network_local_and_publish_table(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    # the dev dependencies only: the dlt reference is left out, which the results say
    parts = "network,local,publish"
    assert main(["--smoke", "--only", parts, "--dlt-rows", "0", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.strip() == capsys.readouterr().out.strip()
    assert "| cores |" in text and "| duckdb |" in text and "Smoke run" in text
    for title in (
        "## Network: backfill at the rate limit",
        "## Network: nightly runs and reference lists",
        "## Local: raw pages to DuckDB and Parquet",
        "## Publishing in the DuckDB 1.x format",
    ):
        assert title in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and " | " in line]
    measures = {line.split(" | ")[0][2:] for line in rows}
    assert {"backfill wall time", "429 answers", "insert: rows per second",
            "update: peak memory", "smoke: publish, peak memory"} <= measures  # fmt: skip
    # one request per snapshot resource and one page per history endpoint, nothing more
    quiet_night = SNAPSHOTS + len(HISTORY)
    assert f"nightly run, no new activity: requests | {quiet_night} |" in text
    assert "| 429 answers | 0 |" in text
    assert "(b) left out" in text


@pytest.mark.slow  # the sandbox in a process of its own
def test_smoke_run_of_many_accounts_writes_its_table(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    assert main(["--smoke", "--only", "accounts", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Many accounts at once" in text
    assert "| first run, 3 accounts |" in text and "| next night (one new day), 1 account |" in text
    assert "| 429 answers | 0 |" in text


def test_smoke_run_of_the_matching_views_writes_every_view(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    assert main(["--smoke", "--only", "views", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.strip() == capsys.readouterr().out.strip()
    for view in ("cash_transactions", "external_flows", "history_items", "income_items"):
        assert f"| {view}, 200 transactions and 400 report rows |" in text
    assert "**no**" not in text
