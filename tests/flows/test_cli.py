"""The command line: every command, every user error, one line each, and the exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from flows.app.cli import main
from flows.app.status import status_report
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import db_contents, export, run_cli, sandbox_config, settings_for
from warehouse import Warehouse


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory, invest_copy) -> Path:
    """A warehouse exported from the sandbox (plain functions, no Prefect)."""
    return invest_copy(tmp_path_factory.mktemp("cli") / "data")


def test_sql_table_csv_and_json(warehouse_dir, capsys):
    query = "SELECT reference, amount FROM dividends ORDER BY reference LIMIT 3"
    expected = db_contents(warehouse_dir, "dividends")
    assert main(["sql", "--data-dir", str(warehouse_dir), query]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["reference", "amount"]
    assert table.rstrip().endswith("(3 rows)")
    assert main(["sql", "--data-dir", str(warehouse_dir), "--format", "csv", query]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["reference", "amount"] and len(rows) == 4
    assert main(["sql", "--data-dir", str(warehouse_dir), "--format", "json", query]) == 0
    records = json.loads(capsys.readouterr().out)
    first = sorted(expected, key=lambda r: r[1])[0]
    assert records[0]["reference"] == first[1]
    from decimal import Decimal

    assert Decimal(records[0]["amount"]) == first[6]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["SELECT * FROM nope"], "SQL error: Catalog Error"),
        (["SELEC 1"], "SQL error: Parser Error"),
        (["DELETE FROM dividends"], "read-only"),
    ],
)
def test_sql_errors_are_one_line_and_change_nothing(warehouse_dir, capsys, args, fragment):
    before = db_contents(warehouse_dir, "dividends")
    assert main(["sql", "--data-dir", str(warehouse_dir), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert db_contents(warehouse_dir, "dividends") == before


def _refused_statements(data_dir: Path, outside: Path) -> list[tuple[str, Path | None]]:
    """Statements ``sql`` must refuse, each with the file it would have written, if any."""
    work_db = data_dir / ".work" / "warehouse.duckdb"
    parquet = data_dir / "parquet" / "dividends" / "stolen.parquet"
    pivot_target = data_dir.resolve() / "parquet" / "fills" / "part-2.parquet"
    return [
        (f"COPY dividends TO '{outside / 'out.csv'}'", outside / "out.csv"),
        (f"COPY (SELECT 1) TO '{parquet}'", parquet),
        (f"EXPORT DATABASE '{outside / 'dump'}'", outside / "dump"),
        (f"ATTACH '{work_db}' AS work", None),
        (f"ATTACH '{outside / 'new.duckdb'}' AS fresh", outside / "new.duckdb"),
        ("INSTALL httpfs", None),
        ("LOAD httpfs", None),
        ("SELECT * FROM read_csv('/etc/passwd')", None),
        ("SELECT * FROM read_text('/etc/hostname')", None),
        (f"SELECT * FROM read_parquet('{outside}/*.parquet')", None),
        ("SELECT * FROM read_csv('https://example.org/x.csv')", None),
        ("SET enable_external_access = true", None),
        ("SET lock_configuration = false", None),
        ("SELECT 1; COPY dividends TO 'x.csv'", None),
        (
            f"COPY (WITH p AS (PIVOT (SELECT 1 a, 'x' b) ON b USING count(*)) "
            f"SELECT f.* EXCLUDE (account_id) FROM fills f, p LIMIT 5) TO '{pivot_target}' "
            "(FORMAT parquet)",
            pivot_target,
        ),
        (
            f"EXPLAIN PIVOT (SELECT 1 a, 'x' b) ON b USING count(*); "
            f"COPY (SELECT 1) TO '{parquet}'",
            parquet,
        ),
        ("UPDATE EXTENSIONS", None),
    ]


def test_sql_reads_and_never_writes(warehouse_dir, tmp_path, capsys):
    before = db_contents(warehouse_dir, "dividends")
    work_bytes = (warehouse_dir / ".work" / "warehouse.duckdb").read_bytes()
    for query, target in _refused_statements(warehouse_dir, tmp_path):
        assert main(["sql", "--data-dir", str(warehouse_dir), query]) == 2, query
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "t212-etl sql only reads" in err, err
        assert target is None or not target.exists(), query
    assert db_contents(warehouse_dir, "dividends") == before
    assert (warehouse_dir / ".work" / "warehouse.duckdb").read_bytes() == work_bytes
    assert not (tmp_path / "x.csv").exists()


def test_sql_table_escapes_control_characters(warehouse_dir, capsys):
    query = "SELECT 'AB' || chr(27) || ']0;x' || chr(7) || chr(27) || '[2JC' AS ticker"
    assert main(["sql", "--data-dir", str(warehouse_dir), query]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "AB\\x1b]0;x\\x07\\x1b[2JC" in out


def test_sql_csv_neutralises_formulas_unless_raw(warehouse_dir, capsys):
    query = "SELECT '=HYPERLINK(''http://x'')' AS link, -1.5::DECIMAL(4,2) AS amount"
    assert main(["sql", "--data-dir", str(warehouse_dir), "--format", "csv", query]) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out)))[1] == [
        "'=HYPERLINK('http://x')",
        "-1.5",
    ]
    args = ["sql", "--data-dir", str(warehouse_dir), "--format", "csv", "--raw-csv", query]
    assert main(args) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out)))[1][0] == "=HYPERLINK('http://x')"


def test_sql_reads_the_parquet_datasets(warehouse_dir, capsys):
    pattern = warehouse_dir.resolve() / "parquet" / "dividends" / "**" / "*.parquet"
    query = f"SELECT count(*) AS n FROM read_parquet('{pattern}', hive_partitioning = true)"
    assert main(["sql", "--data-dir", str(warehouse_dir), "--format", "json", query]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["n"] == len(db_contents(warehouse_dir, "dividends")) > 0


@pytest.mark.parametrize("url", ["file://relative/lake", "file://{tmp}/no-such-lake"])
def test_sql_refuses_a_relative_or_missing_local_store(warehouse_dir, tmp_path, capsys, url):
    url = url.format(tmp=tmp_path)
    args = ["sql", "--data-dir", str(warehouse_dir), "--storage-url", url, "SELECT 1 AS n"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "storage_url" in err and "Traceback" not in err, err


def test_sql_without_a_warehouse(tmp_path, capsys):
    assert main(["sql", "--data-dir", str(tmp_path / "none"), "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert "no warehouse" in err and "t212-etl run" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    code, _, err = run_cli("sql", "--debug", "--data-dir", str(tmp_path / "none"), "SELECT 1")
    assert code != 0 and "Traceback" in err


def test_status_fresh_then_stale(warehouse_dir, capsys):
    assert main(["status", "--data-dir", str(warehouse_dir)]) == 0
    out = capsys.readouterr().out
    assert f"== account {DEMO_ACCOUNT_ID}" in out and "fresh:" in out
    assert "parquet: every partition matches DuckDB" in out
    assert "dividends" in out and "WARNING" not in out
    from datetime import UTC, datetime

    text, attention = status_report(warehouse_dir, now=datetime.now(UTC) + timedelta(days=2))
    assert attention and "WARNING: last successful load" in text


@pytest.mark.slow  # an export, then a rebuild
def test_status_finds_broken_parquet_and_rebuild_repairs_it(tmp_path, capsys):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        export(settings_for(sb, data_dir), only=["dividends", "transactions"])
    part = next((data_dir / "parquet" / "dividends").glob("account_id=*/data.parquet"))
    part.unlink()
    tx = next((data_dir / "parquet" / "transactions").glob("account_id=*/data.parquet"))
    tx.write_bytes(tx.read_bytes()[:100])
    assert main(["status", "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "PARQUET: 2 problem(s)" in out and "missing" in out
    assert main(["rebuild", "--data-dir", str(data_dir)]) == 0
    assert "rebuilt from the raw zone" in capsys.readouterr().out
    assert main(["status", "--data-dir", str(data_dir)]) == 0


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        ([], {}, "T212_API_KEY"),
        (["--account", "nope"], {"T212_API_KEY": "k", "T212_API_SECRET": "s"}, "unknown account"),
        (["--only", "dividends,bogus"], {"T212_API_KEY": "k", "T212_API_SECRET": "s"}, "bogus"),
        (
            [],
            {"T212_API_KEY": "k", "T212_API_SECRET": "s", "T212_ENV": "paper"},
            "'live' or 'demo'",
        ),
        (
            [],
            {"T212_API_KEY": "k", "T212_API_SECRET": "s", "T212_BASE_URL": "http://example.org"},
            "clear text",
        ),
    ],
)
def test_run_user_errors_are_one_line_exit_2(tmp_path, args, env, fragment):
    code, _, err = run_cli("run", "--data-dir", str(tmp_path / "d"), *args, env=env, cwd=tmp_path)
    assert code == 2, err
    assert fragment in err and err.strip().count("\n") == 0 and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_run_bad_config_file_and_unusable_data_dir(tmp_path):
    (tmp_path / "t212-etl.toml").write_text("[[accounts]]\nname='a'\nkey='literal'\n")
    code, _, err = run_cli("run", cwd=tmp_path)
    assert code == 2, err
    assert "literal secret" in err and "literal'" not in err
    (tmp_path / "t212-etl.toml").unlink()
    (tmp_path / "file").write_text("x")
    env = {"T212_API_KEY": "k", "T212_API_SECRET": "s"}
    code, _, err = run_cli("run", "--data-dir", str(tmp_path / "file" / "d"), env=env, cwd=tmp_path)
    assert code == 2 and "cannot be used" in err and "not a directory" in err


def test_serve_without_a_prefect_server_says_what_to_run(tmp_path):
    env = {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": ""}
    code, _, err = run_cli("serve", "--data-dir", str(tmp_path), env=env, cwd=tmp_path)
    assert code == 2
    assert "prefect server start" in err and "PREFECT_API_URL" in err and "cron" in err


def test_sandbox_command_serves_and_prints_how_to_connect(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "sandbox", "--port", "0", "--time-scale", "0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("Trading 212 sandbox serving on http://127.0.0.1:")
        base_url = first.split()[-1]
        lines = [proc.stdout.readline() for _ in range(6)]
        assert any(f"export T212_API_KEY={DEMO_KEY}" in line for line in lines)
        response = httpx.get(
            f"{base_url}/api/v0/equity/account/summary", auth=(DEMO_KEY, DEMO_SECRET), timeout=5
        )
        assert response.status_code == 200 and response.json()["id"] == DEMO_ACCOUNT_ID
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_second_run_while_locked_exits_2(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb, Warehouse.open(data_dir):
        env = {
            "T212_API_KEY": DEMO_KEY,
            "T212_API_SECRET": DEMO_SECRET,
            "T212_BASE_URL": sb.base_url,
        }
        started = time.monotonic()
        code, _, err = run_cli("run", "--data-dir", str(data_dir), "--lock-timeout", "0.5", env=env)
    assert code == 2, err
    assert "another run" in err.lower() or "locked" in err.lower()
    assert err.strip().count("\n") == 0
    assert time.monotonic() - started < 60


def test_commands_that_need_no_flow_never_import_prefect(warehouse_dir):
    script = (
        "import sys\n"
        "from flows.app.cli import main\n"
        f"d = {str(warehouse_dir)!r}\n"
        "codes = [main(['sql', '--data-dir', d, 'SELECT 1']), main(['status', '--data-dir', d]),\n"
        "         main(['rebuild', '--data-dir', d])]\n"
        "print('CODES', codes, any(m.split('.')[0] == 'prefect' for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    last = done.stdout.strip().splitlines()[-1]
    assert last == "CODES [0, 0, 0] False", done.stderr[-500:]
