"""Every SQL block in the README and docs/, and every Python block of docs/bi.md, runs."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from warehouse import connect_readonly

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def blocks(path: Path, lang: str) -> list[str]:
    """The code blocks of ``path`` fenced as ``lang``, indentation removed."""
    found = []
    for match in FENCE.finditer(path.read_text()):
        if match["lang"] == lang:
            indent = len(match["indent"])
            found.append("".join(line[indent:] for line in match["body"].splitlines(True)))
    return found


def _cases(lang: str, documents: list[Path]) -> list:
    return [
        pytest.param(block, id=f"{path.relative_to(ROOT)}:{n}")
        for path in documents
        for n, block in enumerate(blocks(path, lang), 1)
    ]


SQL = _cases("sql", DOCUMENTS)
PYTHON = _cases("python", [ROOT / "docs" / "bi.md"])


def test_the_docs_have_queries_and_recipes():
    assert len(SQL) >= 8 and len(PYTHON) >= 3
    assert blocks(ROOT / "docs" / "bi.md", "python"), "bi.md recipes are tested"


@pytest.mark.parametrize("sql", SQL)
def test_documented_sql_runs_on_the_warehouse(sql, docs_dir, monkeypatch):
    monkeypatch.chdir(docs_dir)  # relative paths in the docs start at the data directory's parent
    con = connect_readonly(docs_dir / "data")
    try:
        result = con.execute(sql)
        assert result.description, "a documented query returns columns"
        result.fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("code", PYTHON)
def test_documented_python_runs_and_reads_rows(code, docs_dir, monkeypatch):
    monkeypatch.chdir(docs_dir)
    namespace: dict = {}
    exec(compile(code, "<docs/bi.md>", "exec"), namespace)
    frames = pd.DataFrame | pa.Table | pl.DataFrame
    results = [v for v in namespace.values() if isinstance(v, frames)]
    assert results, "a recipe ends with a frame or table"
    assert all(len(r) > 0 for r in results)
    for value in namespace.values():
        if isinstance(value, duckdb.DuckDBPyConnection):
            value.close()
