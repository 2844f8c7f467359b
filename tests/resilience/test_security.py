"""Private files whatever the umask, paths that never escape, servers on loopback only."""

from __future__ import annotations

import argparse
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from flows.app.cli import main
from flows.pipeline.rebuild import rebuild
from sandbox import Sandbox, SandboxConfig
from sandbox.cli import add_arguments
from tests.flows.harness import export, sandbox_config, settings_for
from warehouse.merge import Load


def modes(root: Path) -> dict[Path, int]:
    """Permission bits of every file and folder below ``root``."""
    return {p: stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.mark.slow  # an export under each umask
def test_everything_created_is_private_whatever_the_umask(tmp_path, capsys):
    data_dir = tmp_path / "data"
    old = os.umask(0)
    try:
        with Sandbox(sandbox_config()) as sb:
            assert export(settings_for(sb, data_dir)).exit_code == 0
        rebuild(data_dir)
        assert main(["report", "--data-dir", str(data_dir)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    found = modes(data_dir)
    assert len(found) > 50 and any(p.name == "dashboard.html" for p in found)
    assert any(p.suffix == ".gz" for p in found) and any(p.suffix == ".parquet" for p in found)
    for path, mode in found.items():
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path} is {oct(mode)}"


def test_no_path_escapes_the_data_directory_whatever_the_tickers(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        assert export(settings_for(sb, data_dir)).exit_code == 0
    from tests.flows.harness import scalar

    odd = scalar(
        data_dir,
        "SELECT count(*) FROM instruments WHERE regexp_matches(ticker, '[^A-Za-z0-9_]')",
    )
    assert odd > 0  # the sandbox serves tickers with '/', '.', spaces and the like
    root = data_dir.resolve()
    for path in data_dir.rglob("*"):
        assert path.resolve().is_relative_to(root), path
    assert not list(tmp_path.glob("*/../*.parquet"))
    assert {p.name for p in tmp_path.iterdir()} == {"data"}


def test_servers_bind_loopback_by_default():
    assert SandboxConfig().host == "127.0.0.1"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"
    with Sandbox(sandbox_config()) as sb:
        host = sb.base_url.split("//", 1)[1].rsplit(":", 1)[0]
        assert host == "127.0.0.1"


@pytest.mark.slow  # whole exports
def test_decimal_values_survive_to_duckdb_and_parquet_exactly(tmp_path):
    """Long, tiny and exponent-form amounts, through the whole load, to the last digit."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.flows.harness import db_contents, parquet_contents
    from transforms.dividends import normalise_dividends
    from transforms.frames import to_arrow
    from warehouse import Warehouse

    amounts = st.decimals(
        min_value=Decimal("-99999999999999999999999999.9999999999"),
        max_value=Decimal("99999999999999999999999999.9999999999"),
        places=10,
        allow_nan=False,
        allow_infinity=False,
    )
    data_dir = tmp_path / "data"
    seen: dict[str, Decimal] = {}
    wh = Warehouse.open(data_dir)

    @settings(max_examples=60, deadline=None, database=None)
    @given(amount=amounts, as_text=st.booleans())
    def load(amount: Decimal, as_text: bool) -> None:
        reference = f"r{len(seen)}"
        record = {"reference": reference, "ticker": "X_US_EQ", "paidOn": "2024-01-02T03:04:05Z"}
        record["amount"] = Decimal(format(amount, "E")) if as_text else amount
        result = normalise_dividends([record], account_id=7)
        assert not result.problems
        tables = {"dividends": to_arrow(result.frames["dividends"], "dividends")}
        wh.merge_resource(Load("dividends", 7, "p", None), tables, None)
        seen[reference] = amount

    with wh:
        load()
        wh.publish()
    in_db = {r[1]: r[6] for r in db_contents(data_dir, "dividends")}
    in_parquet = {r[1]: r[6] for r in parquet_contents(data_dir, "dividends")}
    assert len(seen) == 60 and in_db == seen == in_parquet
