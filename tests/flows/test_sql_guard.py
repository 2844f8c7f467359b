"""`sql` only reads, whatever the statement's shape: a fuzz around every write form."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.app.cli import main

PIVOT = "PIVOT (SELECT 1 AS a, 'x' AS b) ON b USING count(*)"
READS = [
    "SELECT 1 AS a",
    "FROM dividends SELECT reference LIMIT 1",
    PIVOT,
    "UNPIVOT (SELECT 1 AS a, 2 AS b) ON COLUMNS(*)",
    f"WITH p AS ({PIVOT}) SELECT * FROM p",
    "SELECT * FROM (SELECT count(*) AS n FROM fills) AS s",
    "SUMMARIZE SELECT 1 AS a",
    "DESCRIBE dividends",
    "SHOW TABLES",
    "SELECT * FROM pragma_version()",
]


def _wrap(inner: str, shape: str) -> str:
    """``inner`` (a query) in one of the shapes a read can take."""
    return {
        "plain": inner,
        "cte": f"WITH q AS ({inner}) SELECT * FROM q",
        "pivot_cte": f"WITH p AS ({PIVOT}), q AS ({inner}) SELECT q.* FROM q, p",
        "subquery": f"SELECT * FROM ({inner}) AS s",
    }[shape]


def _writes(query: str, target: Path, parquet: Path) -> list[str]:
    """Every write form, each reading ``query`` where it reads something."""
    part = parquet / "fills" / "part-9.parquet"
    return [
        f"COPY ({query}) TO '{target}.csv'",
        f"COPY ({query}) TO '{part}' (FORMAT parquet)",
        f"COPY ({query}) TO '{parquet / 'fills'}' (FORMAT parquet, PARTITION_BY (a), OVERWRITE)",
        f"COPY dividends TO '{target}.parquet'",
        f"EXPORT DATABASE '{target}'",
        f"ATTACH '{target}.duckdb' AS fresh",
        "INSERT INTO dividends SELECT * FROM dividends LIMIT 1",
        "UPDATE dividends SET amount = 0",
        "DELETE FROM dividends",
        f"CREATE TABLE t AS {query}",
        f"CREATE TEMP TABLE t AS {query}",
        "DROP TABLE dividends",
        "INSTALL httpfs",
        "LOAD httpfs",
        "UPDATE EXTENSIONS",
        "SET enable_external_access = true",
        "SET VARIABLE v = 1",
        f"PRAGMA profiling_output = '{target}.json'",
        f"CALL enable_logging(storage = 'file', storage_path = '{target}')",
        "CHECKPOINT",
        "PRAGMA version",
        "CALL pragma_version()",
        "BEGIN TRANSACTION",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
    ]


def _prefixed(statement: str, prefix: str) -> str:
    return {
        "none": statement,
        "explain": f"EXPLAIN {statement}",
        "analyze": f"EXPLAIN ANALYZE {statement}",
        "comment": f"/* ; COPY */ -- x\n{statement}",
        "read_first": f"SELECT 1; {statement}",
        "read_after": f"{statement}; SELECT 1",
    }[prefix]


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory, invest_copy) -> Path:
    """A warehouse exported from the sandbox."""
    return invest_copy(tmp_path_factory.mktemp("guard") / "data")


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under ``root``, with what any write changes (size, time, inode)."""
    return {
        str(p.relative_to(root)): (st.st_size, st.st_mtime_ns, st.st_ino)
        for p in sorted(root.rglob("*"))
        for st in [p.stat()]
    }


def _sql(data_dir: Path, query: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sql", "--data-dir", str(data_dir), query])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow  # Hypothesis through the warehouse
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    read=st.sampled_from(READS),
    shape=st.sampled_from(["plain", "cte", "pivot_cte", "subquery"]),
    write=st.integers(min_value=-1, max_value=23),
    prefix=st.sampled_from(["none", "explain", "analyze", "comment", "read_first", "read_after"]),
)
def test_no_statement_shape_writes(warehouse_dir, tmp_path_factory, read, shape, write, prefix):
    outside = tmp_path_factory.getbasetemp() / "guard-targets"
    outside.mkdir(exist_ok=True)
    before = _snapshot(warehouse_dir)
    query = _wrap(read, shape) if read.startswith(("SELECT", "FROM", "WITH")) else read
    parquet = warehouse_dir.resolve() / "parquet"
    statement = query if write < 0 else _writes(query, outside / "t", parquet)[write]
    code, out, err = _sql(warehouse_dir, _prefixed(statement, prefix))
    assert "Traceback" not in err
    if write >= 0:
        assert code == 2, statement
    if code == 0:
        assert out.rstrip().endswith(("row)", "rows)")) and not err
    else:
        assert code == 2 and err.count("\n") == 1 and not out, err
    assert _snapshot(warehouse_dir) == before
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("read", READS)
def test_every_read_shape_answers(warehouse_dir, read):
    code, out, err = _sql(warehouse_dir, read)
    assert code == 0, err
    assert out.rstrip().endswith(("row)", "rows)"))


def test_the_connection_itself_refuses_what_slips_past_the_guard(warehouse_dir, tmp_path):
    """Defence in depth: straight on the reader's connection, with no statement check."""
    import duckdb

    from warehouse import connect_readonly

    before = _snapshot(warehouse_dir)
    statements = [
        f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
        f"EXPORT DATABASE '{tmp_path / 'dump'}'",
        f"ATTACH '{tmp_path / 'new.duckdb'}' AS fresh",
        "INSTALL httpfs",
        "LOAD httpfs",
        "UPDATE EXTENSIONS",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        f"SET allowed_directories = ['{tmp_path}/']",
        "DELETE FROM dividends",
        "CREATE TABLE t AS SELECT 1",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        f"CALL enable_logging(storage = 'file', storage_path = '{tmp_path / 'log'}')",
        f"PRAGMA profiling_output = '{tmp_path / 'profile.json'}'",
        "SELECT * FROM read_csv('https://example.invalid/x.csv')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM read_parquet('{warehouse_dir.resolve()}/.work/*.parquet')",
    ]
    for statement in statements:
        con = connect_readonly(warehouse_dir)
        try:
            with pytest.raises(duckdb.Error):
                con.execute(statement)
        finally:
            con.close()
    assert _snapshot(warehouse_dir) == before
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "SELECT",
                    "COPY",
                    "PIVOT",
                    "EXPLAIN",
                    "ANALYZE",
                    "WITH",
                    "AS",
                    "(",
                    ")",
                    ";",
                    "--",
                    "/*",
                    "*/",
                    "'",
                    '"',
                    ",",
                    "1",
                    "x",
                    "TO",
                    "UPDATE",
                    "EXTENSIONS",
                    "ON",
                ]
            ),
            st.text(max_size=3),
        ),
        max_size=14,
    ).map(" ".join)
)
def test_the_guard_answers_any_text_with_a_refusal_or_a_parser_error(query):
    import duckdb

    from warehouse import WriteRefused, check_read_only

    try:
        check_read_only(query)
    except WriteRefused as refused:
        assert "\n" not in str(refused)
    except duckdb.Error:
        pass  # DuckDB cannot parse it: `sql` prints its one line
    else:
        kinds = {s.type.name for s in duckdb.extract_statements(query)}
        assert kinds <= {"SELECT", "EXPLAIN", "MULTI"}, query
