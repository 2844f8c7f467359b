"""The working database is kept in the format DuckDB 1.x reads, so publishing copies its bytes;
one made by an older release, in the newest format, is converted by its first publish."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pytest

from tests.flows.harness import tables_contents
from warehouse import Warehouse, connect_readonly, published
from warehouse.published import in_published_format, readable_from

CATALOGUE = (
    "SELECT table_name, comment, sql FROM duckdb_tables()",
    "SELECT table_name, column_name, data_type, is_nullable, column_default, comment "
    "FROM duckdb_columns()",
    "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()",
    "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal",
)


def _storage(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        ).fetchone()[0]
    finally:
        con.close()


def _catalogue(path: Path) -> list[list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [sorted(con.sql(sql).fetchall(), key=repr) for sql in CATALOGUE]
    finally:
        con.close()


def _in_the_newest_format(work_db: Path) -> None:
    """Rewrite ``work_db`` as a release before this one left it: DuckDB's newest format."""
    newest = work_db.with_name("newest.duckdb")
    con = duckdb.connect(str(newest))
    con.execute("ATTACH ? AS working (READ_ONLY)", [str(work_db)])
    con.execute("COPY FROM DATABASE working TO newest")
    con.close()
    newest.replace(work_db)


def test_a_run_publishes_its_working_database_byte_for_byte(invest_copy, tmp_path):
    data_dir = invest_copy(tmp_path / "data")
    work_db = data_dir / ".work" / "warehouse.duckdb"
    assert (data_dir / "warehouse.duckdb").read_bytes() == work_db.read_bytes()
    assert _storage(data_dir / "warehouse.duckdb") == "v1.0.0+"  # what DuckDB 1.0 on opens
    reader = connect_readonly(data_dir)
    try:
        assert in_published_format(reader)
        assert reader.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
    finally:
        reader.close()


def test_a_working_database_in_the_newest_format_is_converted_by_its_first_publish(
    invest_copy, tmp_path, monkeypatch
):
    data_dir = invest_copy(tmp_path / "data")
    work_db = data_dir / ".work" / "warehouse.duckdb"
    _in_the_newest_format(work_db)
    assert _storage(work_db) == "v2.0.0+"
    contents, catalogue = tables_contents(data_dir), _catalogue(work_db)
    converted = []
    real = published._copy_in_published_format
    monkeypatch.setattr(
        published, "_copy_in_published_format", lambda *a: converted.append(1) or real(*a)
    )
    for _ in range(2):
        with Warehouse.open(data_dir, views=False) as wh:
            wh.publish_database(reopen=False)
        assert _storage(work_db) == _storage(data_dir / "warehouse.duckdb") == "v1.0.0+"
        assert (data_dir / "warehouse.duckdb").read_bytes() == work_db.read_bytes()
        assert tables_contents(data_dir) == contents
        assert _catalogue(work_db) == catalogue
    assert converted == [1]  # once; the second publish copied the converted file's bytes


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _half_copied(source, copy, length):
    copy.write(source.read(length))
    _disk_full()


def _converted_then_full(real):
    return lambda work_db, staging, memory_limit: (
        real(work_db, staging, memory_limit) or _disk_full()
    )


@pytest.mark.parametrize("newest", [False, True], ids=["as-is", "converting"])
def test_a_publish_that_fails_leaves_both_databases_as_they_were(
    invest_copy, tmp_path, monkeypatch, newest
):
    data_dir = invest_copy(tmp_path / "data")
    work_db = data_dir / ".work" / "warehouse.duckdb"
    if newest:
        _in_the_newest_format(work_db)
        real = published._copy_in_published_format
        monkeypatch.setattr(published, "_copy_in_published_format", _converted_then_full(real))
    else:
        monkeypatch.setattr(published.shutil, "copyfileobj", _half_copied)
    public = data_dir / "warehouse.duckdb"
    before = public.read_bytes(), tables_contents(data_dir)
    with Warehouse.open(data_dir, views=False) as wh, pytest.raises(OSError, match="space"):
        wh.publish_database(reopen=False)
    assert not (data_dir / ".work" / "publishing.duckdb").exists()
    assert public.read_bytes() == before[0]
    assert _storage(work_db) == ("v2.0.0+" if newest else "v1.0.0+")
    monkeypatch.undo()
    with Warehouse.open(data_dir, views=False) as wh:
        wh.publish_database(reopen=False)
    assert tables_contents(data_dir) == before[1]


@pytest.mark.parametrize(
    ("tag", "as_is"),
    [("v1.0.0+", True), ("v1.1.0+", True), ("v1.2.0+", False), ("v2.0.0+", False),
     ("v10.0.0+", False), ("v1.1", False), ("v1.1.0-dev+", False), ("", False), (None, False)],
)  # fmt: skip
def test_only_a_file_every_duckdb_from_1_1_reads_is_copied_as_it_is(tag, as_is):
    assert readable_from(tag) is as_is
