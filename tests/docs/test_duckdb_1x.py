"""The published warehouse opens in DuckDB 1.x, as BI drivers carry it, and answers as 2.x does."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.docs.older_duckdb import run_cli
from tests.docs.test_documented_code import SQL
from warehouse.published import STORAGE_VERSION

ROOT = Path(__file__).resolve().parents[2]
# the command of the README and docs/storage.md, as a user types it
OPEN_READ_ONLY = ["-readonly", "data/warehouse.duckdb"]
STATEMENTS = [
    pytest.param(statement.query.strip().rstrip(";"), id=f"{case.id}:{n}")
    for case in SQL
    for n, statement in enumerate(duckdb.extract_statements(case.values[0]), 1)
]


def _newest(docs_dir: Path, sql: str, target: Path) -> None:
    """Write the result of ``sql`` as DuckDB 2.x reads it from the published file."""
    con = duckdb.connect(str(docs_dir / "data" / "warehouse.duckdb"), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY ({sql}) TO '{target}' (HEADER)")
    finally:
        con.close()


@pytest.mark.parametrize("sql", STATEMENTS)
def test_every_documented_query_answers_the_same_in_duckdb_1x(sql, docs_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(docs_dir)  # the docs' relative paths start at the data directory's parent
    older, newer = tmp_path / "older.csv", tmp_path / "newer.csv"
    run_cli(OPEN_READ_ONLY, f"COPY ({sql}) TO '{older}' (HEADER);\n", docs_dir)
    _newest(docs_dir, sql, newer)
    # the same header and rows; ties of an ORDER BY may come in any order
    assert sorted(older.read_text().splitlines()) == sorted(newer.read_text().splitlines())


def test_every_table_and_view_opens_in_duckdb_1x_with_its_rows(docs_dir):
    listing = (
        "SELECT table_name AS name, table_type AS type FROM information_schema.tables "
        "WHERE table_schema = 'main' ORDER BY name"
    )
    relations = json.loads(run_cli(["-json", *OPEN_READ_ONLY], listing + ";\n", docs_dir))
    newer = duckdb.connect(str(docs_dir / "data" / "warehouse.duckdb"), read_only=True)
    try:
        expected = newer.execute(listing).fetchall()
        count = 'SELECT count(*) FROM "{}"'
        counts = {n: newer.execute(count.format(n)).fetchone()[0] for n, _ in expected}
    finally:
        newer.close()
    assert [(r["name"], r["type"]) for r in relations] == expected
    assert {"VIEW", "BASE TABLE"} <= {t for _, t in expected}
    script = " UNION ALL ".join(f"SELECT '{n}' AS name, count(*) AS n FROM \"{n}\"" for n in counts)
    found = json.loads(run_cli(["-json", *OPEN_READ_ONLY], script + ";\n", docs_dir))
    assert {row["name"]: row["n"] for row in found} == counts


def test_the_docs_name_the_storage_version_the_code_writes():
    for document in ("docs/storage.md", "docs/bi.md"):
        text = " ".join((ROOT / document).read_text().split())
        assert f"storage_compatibility_version = '{STORAGE_VERSION}'" in text, document
