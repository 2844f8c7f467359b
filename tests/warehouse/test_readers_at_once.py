"""Readers of one published warehouse open at once in one process (an MCP server answering
parallel tool calls): each works, in UTC, and none can change or reach anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from warehouse import Warehouse, connect_readonly

SETTINGS = "SELECT current_setting('TimeZone'), current_setting('enable_external_access')"


@pytest.fixture
def data_dir(tmp_path):
    with Warehouse.open(tmp_path / "data", views=False) as wh:
        wh.connection.execute(
            "INSERT INTO runs (run_id, started_at, outcome) VALUES ('r1', ?, 'success')",
            [datetime(2024, 1, 1, 23, 30, tzinfo=UTC)],
        )
        wh.publish_database()
    return tmp_path / "data"


def test_a_second_reader_opens_while_the_first_is_open(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # a reader shows UTC whatever the machine's zone
    readers = [connect_readonly(data_dir) for _ in range(3)]
    for con in readers:
        assert con.execute(SETTINGS).fetchone() == ("UTC", False)
        started = con.execute("SELECT started_at::VARCHAR FROM runs").fetchone()[0]
        assert started == "2024-01-01 23:30:00+00"
        with pytest.raises(duckdb.Error):
            con.execute("SET TimeZone = 'Asia/Tokyo'")
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE stolen (i INTEGER)")
        with pytest.raises(duckdb.Error):
            con.execute(f"SELECT * FROM read_csv('{tmp_path / 'elsewhere.csv'}')")
    readers[0].close()
    assert readers[1].execute("SELECT count(*) FROM runs").fetchone() == (1,)
    for con in readers[1:]:
        con.close()
