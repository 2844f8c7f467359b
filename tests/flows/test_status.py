"""`status` agrees with itself while a run publishes Parquet and after a run is interrupted."""

from __future__ import annotations

import pytest

from flows.app.status import status_report
from sandbox import Sandbox
from tests.flows.harness import export, killed_export, sandbox_config, settings_for
from warehouse import parquet


def _parquet_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lower().startswith(("parquet", "  "))]


@pytest.mark.slow  # status throughout a whole export
def test_status_during_a_run_raises_no_alarm(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    reports: list[tuple[str, bool]] = []
    real_publish = parquet.publish_pending

    def publish_then_look(*args):
        published = real_publish(*args)
        reports.append(status_report(data_dir))
        return published

    with Sandbox(sandbox_config()) as sb:
        assert export(settings_for(sb, data_dir)).exit_code == 0
        sb.advance(days=3)
        monkeypatch.setattr(parquet, "publish_pending", publish_then_look)
        assert export(settings_for(sb, data_dir)).exit_code == 0
    assert len(reports) >= 2  # a resource's publish during the run, and the run's own
    for text, attention in reports:
        assert "PARQUET:" not in text, _parquet_lines(text)
        assert not attention, text
    assert any("newer than the database copy" in text for text, _ in reports)
    text, attention = status_report(data_dir)
    assert not attention and "every partition matches DuckDB" in text


def test_status_after_an_interrupted_run_raises_no_alarm(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        assert export(settings_for(sb, data_dir)).exit_code == 0
        sb.advance(days=3)
        code, err = killed_export(sb.base_url, data_dir, "rename.parquet:3")
        assert code == -9, err[-2000:]
        text, attention = status_report(data_dir)
        assert "PARQUET:" not in text and not attention, _parquet_lines(text)
        assert "newer than the database copy" in text
        assert export(settings_for(sb, data_dir)).exit_code == 0
    text, attention = status_report(data_dir)
    assert not attention and "every partition matches DuckDB" in text


def test_status_shows_the_limits_the_api_announced_beside_the_documented(tmp_path):
    data_dir = tmp_path / "data"
    api = "/api/v0/equity"
    config = sandbox_config(time_scale=0.001, rate_limits={f"GET {api}/history/orders": (50, 60.0)})
    with Sandbox(config) as sb:
        assert export(settings_for(sb, data_dir)).exit_code == 0
    text, attention = status_report(data_dir)
    rows = {
        " ".join(line.split()[:2]): line for line in text.splitlines() if line.startswith("GET /")
    }
    # every endpoint the run called, announced (the sandbox scales its periods) beside the
    # documented limit, and whether they differ
    assert set(rows) >= {f"GET {api}/{p}" for p in ("account/summary", "positions", "orders")}
    orders = rows[f"GET {api}/history/orders"].split()
    assert orders[2:9] == ["50", "per", "0.06", "s", "6", "per", "60"] and "differs" in orders
    summary = rows[f"GET {api}/account/summary"].split()
    assert summary[2:9] == ["1", "per", "0.005", "s", "1", "per", "5"]
    assert not attention
