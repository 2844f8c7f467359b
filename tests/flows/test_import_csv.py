"""`t212-etl import-csv`: hand-downloaded reports, idempotent, merged, bad files refused whole."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from flows.app.cli import main
from flows.pipeline.rebuild import rebuild
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.downloads import download_report
from tests.flows.harness import db_contents, sandbox_config, scalar
from warehouse import raw

PERIODS = {
    "a.csv": ("2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    "b.csv": ("2023-07-01T00:00:00Z", "2024-07-01T00:00:00Z"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two overlapping reports downloaded from the sandbox the way a user would."""
    folder = tmp_path_factory.mktemp("downloads")
    with (
        Sandbox(sandbox_config(report_seconds=0.0)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        for name, (start, end) in PERIODS.items():
            download_report(client, start, end, folder / name)
    return {name: folder / name for name in PERIODS}


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) - 1


def cli(*args: str) -> int:
    return main(["import-csv", *args])


@pytest.mark.slow  # several imports
def test_import_twice_changes_nothing_and_overlaps_merge(files, tmp_path, capsys):
    d = str(tmp_path)
    assert cli("--data-dir", d, "--account-id", str(DEMO_ACCOUNT_ID), str(files["a.csv"])) == 0
    assert f"{lines(files['a.csv'])} new" in capsys.readouterr().out
    first = db_contents(tmp_path, "activity")
    assert len(first) == lines(files["a.csv"]) > 100
    # the warehouse now knows one account, so the id may be left out
    assert cli("--data-dir", d, str(files["a.csv"])) == 0
    assert "0 new, 0 updated" in capsys.readouterr().out
    same = db_contents(tmp_path, "activity")
    assert [r[:-2] for r in same] == [r[:-2] for r in first]
    assert cli("--data-dir", d, str(files["b.csv"]), str(files["a.csv"])) == 0
    capsys.readouterr()
    merged = scalar(tmp_path, "SELECT count(*) FROM activity")
    only_b = scalar(
        tmp_path, "SELECT count(*) FROM activity WHERE time >= TIMESTAMPTZ '2024-01-01 00:00:00Z'"
    )
    assert merged == lines(files["a.csv"]) + only_b < lines(files["a.csv"]) + lines(files["b.csv"])
    assert scalar(tmp_path, "SELECT count(*) FROM runs WHERE outcome = 'success'") == 3
    before = db_contents(tmp_path, "activity")
    rebuild(tmp_path)
    assert db_contents(tmp_path, "activity") == before
    # an import marks no year as fetched through the API; it covers its first to last row
    cursor = json.loads(
        scalar(tmp_path, "SELECT cursor FROM load_state WHERE resource = 'reports'")
    )
    assert set(cursor) == {"periods"} and len(cursor["periods"]) == 2
    spans = [
        (datetime.fromisoformat(p["from"]), datetime.fromisoformat(p["to"]))
        for p in cursor["periods"]
    ]
    first, last = (
        scalar(tmp_path, "SELECT min(time) FROM activity"),
        scalar(tmp_path, "SELECT max(time) FROM activity"),
    )
    assert min(a for a, _ in spans) == first and max(b for _, b in spans) == last


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b"", "empty"),
        (lambda b: b.decode("utf-8-sig").encode("utf-16"), "UTF-16"),
        (lambda b: b"<html><body>Sign in</body></html>", "not a Trading 212 report"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_loaded(files, tmp_path, capsys, damage, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(damage(files["b.csv"].read_bytes()))
    d = str(tmp_path / "wh")
    code = cli("--data-dir", d, "--account-id", "5", str(files["a.csv"]), str(bad))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("t212-etl: nothing imported: import:bad.csv: ") and message in err
    assert len(err.splitlines()) == 1
    assert not list(raw.iter_runs(Path(d), include_incomplete=True))
    assert not (Path(d) / "warehouse.duckdb").exists()


def test_files_beyond_the_memory_cap_are_refused_before_reading(
    files, tmp_path, capsys, monkeypatch
):
    from flows.pipeline import imports

    a, b = files["a.csv"], files["b.csv"]
    d = str(tmp_path / "wh")
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", a.stat().st_size + b.stat().st_size - 1)
    assert cli("--data-dir", d, "--account-id", "5", str(a), str(b)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "import them in several goes" in err, err
    assert not (Path(d) / "warehouse.duckdb").exists()
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", a.stat().st_size - 1)
    assert cli("--data-dir", d, "--account-id", "5", str(a)) == 2
    err = capsys.readouterr().err.strip()
    assert str(a) in err and "shorter periods" in err, err
    assert not list(raw.iter_runs(Path(d), include_incomplete=True))


def test_the_account_must_be_clear(files, tmp_path, capsys):
    assert cli("--data-dir", str(tmp_path), str(files["a.csv"])) == 2
    assert "--account-id" in capsys.readouterr().err
    assert cli("--data-dir", str(tmp_path), str(tmp_path / "missing.csv")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_activity_table_keyed_the_old_way_is_read_again_from_the_raw_zone(files, tmp_path):
    import duckdb

    d = str(tmp_path)
    assert cli("--data-dir", d, "--account-id", str(DEMO_ACCOUNT_ID), str(files["a.csv"])) == 0
    expected = db_contents(tmp_path, "activity")
    # as an earlier version left it: the report's ID (or a content hash) as the key
    con = duckdb.connect(str(tmp_path / ".work" / "warehouse.duckdb"))
    con.execute("UPDATE activity SET id = coalesce(report_id, 'row:' || left(id, 8))")
    con.execute("ALTER TABLE activity DROP COLUMN report_id")
    con.close()
    assert cli("--data-dir", d, str(files["b.csv"])) == 0
    only_b = scalar(
        tmp_path, "SELECT count(*) FROM activity WHERE time >= TIMESTAMPTZ '2024-01-01 00:00:00Z'"
    )
    assert scalar(tmp_path, "SELECT count(*) FROM activity") == len(expected) + only_b
    assert scalar(tmp_path, "SELECT count(*) FROM activity WHERE id NOT LIKE '%:%:%'") == 0


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_file_that_is_not_regular_is_refused_without_waiting(tmp_path, kind):
    special = tmp_path / "report.csv"
    os.mkfifo(special) if kind == "fifo" else special.mkdir()
    err = io.StringIO()
    codes: list[int] = []

    def call() -> None:
        with contextlib.redirect_stderr(err):
            codes.append(cli("--data-dir", str(tmp_path / "wh"), "--account-id", "5", str(special)))

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # let the blocked read end, so the test process can
        with special.open("wb"):
            pass
        worker.join(timeout=10)
        pytest.fail("import-csv blocked on a FIFO")
    assert codes == [2]
    message = err.getvalue().strip()
    assert len(message.splitlines()) == 1 and "not a regular file" in message, message
    assert not (tmp_path / "wh" / "warehouse.duckdb").exists()
