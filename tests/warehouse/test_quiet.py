"""DuckDB's progress bar never reaches stdout: it would corrupt `sql` output and run logs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse import Warehouse, connect_readonly
from warehouse.published import write_published

SETTING = "SELECT current_setting('enable_progress_bar')"


@pytest.fixture
def eager_progress_bar(monkeypatch):
    """Connections that draw DuckDB's progress bar for every statement, not after 2 s.

    (DuckDB's default depends on how the process was started: on under a plain shell,
    off under pytest, so the tests switch it on first.)
    """
    real = duckdb.connect

    def connect(*args, **kwargs):
        con = real(*args, **kwargs)
        con.execute("SET enable_progress_bar = true")
        con.execute("SET progress_bar_time = 0")
        return con

    monkeypatch.setattr(duckdb, "connect", connect)


def _bar_off(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(SETTING).fetchone()[0] is False


def test_the_working_and_reading_connections_draw_no_progress_bar(tmp_path, eager_progress_bar):
    data_dir = tmp_path / "data"
    with Warehouse.open(data_dir, views=False) as wh:
        assert _bar_off(wh.connection) and _bar_off(wh.connection.cursor())
        wh.publish_database()
        assert _bar_off(wh.connection), "the connection reopened after publishing"
    reader = connect_readonly(data_dir)
    try:
        assert _bar_off(reader)
    finally:
        reader.close()


def test_publishing_draws_no_progress_bar(tmp_path: Path, capfd, eager_progress_bar):
    work = tmp_path / "work.duckdb"
    con = duckdb.connect(str(work))
    con.execute("CREATE TABLE t AS SELECT i FROM range(1000) r(i)")
    con.close()
    capfd.readouterr()
    write_published(work, tmp_path / "published.duckdb", "256MB", as_is=False)  # a new file
    # one bar at most: the statement that switches it off is drawn before it takes effect,
    # and this fixture draws every statement (in real use only those past two seconds)
    assert capfd.readouterr().out.count("100%") <= 1


def test_the_fixture_draws_a_bar_for_every_statement(capfd, eager_progress_bar):
    con = duckdb.connect()
    for _ in range(3):
        con.execute("SELECT 42").fetchall()
    con.close()
    assert capfd.readouterr().out.count("100%") >= 3
