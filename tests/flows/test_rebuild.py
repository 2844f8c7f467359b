"""`rebuild` builds a new working database beside the old one and swaps it in whole: readers
never see a table shrink, and an unreadable landed page changes nothing."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import duckdb
import pytest

import flows.pipeline.rebuild
from flows.app.cli import main
from flows.pipeline.rebuild import RebuildRefused, rebuild
from sandbox import Sandbox
from tests.flows.harness import (
    db_contents,
    export,
    parquet_contents,
    sandbox_config,
    settings_for,
    tables_contents,
)
from transforms.catalogue import TABLES
from warehouse import connect_readonly
from warehouse.parquet import PUBLISHED


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A data directory after two runs, copied by each test."""
    data_dir = tmp_path_factory.mktemp("template") / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        sb.advance(days=30)
        assert export(settings).exit_code == 0
    return data_dir


@pytest.fixture
def data_dir(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "data"))


def parquet_counts(data_dir: Path) -> dict[str, int]:
    """Rows per table as a reader of the Parquet datasets sees them now."""
    con = duckdb.connect()
    try:
        counts = {}
        for name in PUBLISHED:
            pattern = data_dir / "parquet" / name / "**" / "*.parquet"
            try:
                counts[name] = con.execute(
                    f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)"
                ).fetchall()[0][0]
            except duckdb.IOException:  # no file at all: the table vanished
                counts[name] = 0
        return counts
    finally:
        con.close()


def published_counts(data_dir: Path) -> dict[str, int]:
    """Rows per table as a reader of the published DuckDB file sees them now."""
    con = connect_readonly(data_dir)
    try:
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in PUBLISHED}
    finally:
        con.close()


@pytest.mark.slow  # readers throughout a rebuild
def test_readers_see_every_row_throughout_a_rebuild(data_dir, monkeypatch):
    tables = tables_contents(data_dir)
    expected = parquet_counts(data_dir)
    assert published_counts(data_dir) == expected and expected["dividends"] > 0
    between_runs: list[tuple[dict, dict]] = []
    replay = flows.pipeline.rebuild.replay_run

    def replay_then_read(wh, resource, run):
        replay(wh, resource, run)
        between_runs.append((parquet_counts(data_dir), published_counts(data_dir)))

    monkeypatch.setattr(flows.pipeline.rebuild, "replay_run", replay_then_read)
    scanned: list[dict] = []
    done = threading.Event()

    def scan() -> None:
        while not done.wait(0.05):
            scanned.append(parquet_counts(data_dir))

    reader = threading.Thread(target=scan)
    reader.start()
    try:
        rebuild(data_dir)
    finally:
        done.set()
        reader.join()
    assert len(between_runs) > 10 and scanned
    for parquet_seen, published_seen in between_runs:
        assert parquet_seen == expected
        assert published_seen == expected
    assert all(seen == expected for seen in scanned)
    # the rebuild gives the tables the runs gave, and leaves nothing behind
    for name in TABLES:
        assert db_contents(data_dir, name) == tables[name], name
        assert parquet_contents(data_dir, name) == tables[name], name
    assert sorted(p.name for p in (data_dir / ".work").iterdir()) == ["lock", "warehouse.duckdb"]


def _page(data_dir: Path, resource: str) -> Path:
    return sorted((data_dir / "raw").glob(f"*/{resource}/*/page-00001.json.gz"))[-1]


def everything(data_dir: Path) -> dict[str, object]:
    """Every file's bytes outside the working directory, and every row of the working database."""
    files = {
        str(p.relative_to(data_dir)): p.read_bytes()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and ".work" not in p.parts
    }
    files[".work"] = sorted(p.name for p in (data_dir / ".work").iterdir())
    con = duckdb.connect(str(data_dir / ".work" / "warehouse.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for name in tables:
            files[f"working:{name}"] = con.execute(
                f'SELECT * FROM "{name}" ORDER BY ALL'
            ).fetchall()
    finally:
        con.close()
    return files


@pytest.mark.slow  # a rebuild a case
@pytest.mark.parametrize(
    ("resource", "damage"),
    [
        ("dividends", lambda body: body[: len(body) // 2]),  # a history page cut short
        ("positions", lambda body: b"\x1f\x8b" + bytes(reversed(body[2:]))),  # a snapshot, garbled
    ],
    ids=["history-truncated", "snapshot-garbled"],
)
def test_an_unreadable_page_fails_the_rebuild_and_changes_nothing(
    data_dir, resource, damage, capsys
):
    page = _page(data_dir, resource)
    intact = page.read_bytes()
    page.write_bytes(damage(intact))
    try:
        before = everything(data_dir)
        with pytest.raises(RebuildRefused) as refused:
            rebuild(data_dir)
        message = str(refused.value)
        assert str(page) in message and "\n" not in message
        assert "nothing changed" in message and "restore" in message
        assert everything(data_dir) == before
        assert main(["rebuild", "--data-dir", str(data_dir)]) == 2
        assert capsys.readouterr().err == f"t212-etl: {message}\n"
        assert everything(data_dir) == before
    finally:
        page.write_bytes(intact)  # the suite's last check reads every file written
