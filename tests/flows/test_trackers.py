"""`t212-etl export-to`: files read back and reconciled with the warehouse, per account."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.app.cli import main
from flows.app.trackers.ledger import Instrument, Trade
from flows.app.trackers.portfolio_performance import _trade_rows
from flows.app.trackers.positions import deliveries
from flows.pipeline.imports import import_reports
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.downloads import download_report
from tests.flows.harness import query, sandbox_config

CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")
GHOSTFOLIO_TYPES = {"BUY", "SELL", "DIVIDEND", "FEE", "INTEREST"}
CURRENCY = re.compile(r"^([A-Z]{3}|GBp|ZAc|ILA|USX)$")


@pytest.fixture(scope="module")
def api_dir(tmp_path_factory, two_accounts_copy) -> Path:
    """Two sandbox accounts exported through the API."""
    return two_accounts_copy(tmp_path_factory.mktemp("trackers") / "data")


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory) -> Path:
    """One account known only from its yearly CSV reports, imported by hand."""
    folder = tmp_path_factory.mktemp("reports")
    files = []
    with (
        Sandbox(sandbox_config(report_seconds=0.0)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        for year in range(2019, 2027):
            path = folder / f"{year}.csv"
            download_report(client, f"{year}-01-01T00:00:00Z", f"{year + 1}-01-01T00:00:00Z", path)
            files.append(path)
    data_dir = folder / "data"
    import_reports(data_dir, files, account_id=DEMO_ACCOUNT_ID)
    return data_dir


def holdings_now(data_dir: Path) -> dict[tuple[int, str], Decimal]:
    """Positions of the latest snapshot, or the rebuilt holdings where there is none."""
    rows = query(
        data_dir,
        """SELECT p.account_id, coalesce(p.instrument_isin, i.isin, p.ticker), p.quantity
           FROM positions_latest p LEFT JOIN instruments i ON i.ticker = p.ticker""",
    ) or query(
        data_dir,
        "SELECT account_id, instrument, quantity FROM holdings_daily "
        "WHERE day = (SELECT max(day) FROM holdings_daily)",
    )
    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for account, instrument, quantity in rows:  # one ISIN can be listed under two tickers
        held[account, instrument] += quantity
    return {k: q for k, q in held.items() if q}


def income(data_dir: Path, kind: str, column: str) -> dict[int, Decimal]:
    rows = query(
        data_dir,
        f"SELECT account_id, sum(round({column}, 2)) FROM income_items "
        f"WHERE kind = '{kind}' GROUP BY 1",
    )
    return {a: v for a, v in rows}


def flows(data_dir: Path) -> dict[int, tuple[int, Decimal]]:
    rows = query(
        data_dir, "SELECT account_id, count(*), sum(amount) FROM external_flows GROUP BY 1"
    )
    return {a: (n, v) for a, n, v in rows}


def run(*args: str) -> int:
    return main(["export-to", *args])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=";"))


def pp_check(data_dir: Path, out: Path, capsys) -> None:
    """Portfolio Performance's two files against the warehouse."""
    assert run("portfolio-performance", "--data-dir", str(data_dir), "--out", str(out)) == 0
    capsys.readouterr()
    cash, trades = (
        read_csv(out / "account-transactions.csv"),
        read_csv(out / "portfolio-transactions.csv"),
    )
    names = {
        f"Trading 212 {a}": a
        for (a,) in query(data_dir, "SELECT DISTINCT account_id FROM income_items")
    }

    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for row in trades:
        sign = 1 if row["Type"] in ("Buy", "Delivery (Inbound)") else -1
        assert row["Type"] in ("Buy", "Sell", "Delivery (Inbound)", "Delivery (Outbound)")
        assert Decimal(row["Shares"]) == Decimal(row["Shares"]).quantize(SHARE)
        held[names[row["Cash Account"]], row["ISIN"] or row["Ticker Symbol"]] += sign * Decimal(
            row["Shares"]
        )
        if row["Currency Gross Amount"]:  # Portfolio Performance's own check, to the cent
            gross = Decimal(row["Gross Amount"]) * Decimal(row["Exchange Rate"])
            fees = Decimal(row["Fees"] or 0)
            net = Decimal(row["Value"]) - (fees if row["Type"] == "Buy" else -fees)
            assert abs(gross - net) <= CENT / 2, row
    expected = {k: q.quantize(SHARE) for k, q in holdings_now(data_dir).items()}
    assert {k: q for k, q in held.items() if q} == expected

    by_type: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    taxes: dict[int, Decimal] = defaultdict(Decimal)
    for row in cash:
        account = names[row["Cash Account"]]
        by_type[account, row["Type"]] += Decimal(row["Value"])
        taxes[account] += Decimal(row["Taxes"] or 0)
    for account, total in income(data_dir, "dividend", "net").items():
        assert by_type[account, "Dividend"] == total
    for account, total in income(data_dir, "dividend", "withholding").items():
        assert taxes[account] == total
    for account, total in income(data_dir, "interest", "net").items():
        assert by_type[account, "Interest"] == total
    for account, (_, total) in flows(data_dir).items():
        assert by_type[account, "Deposit"] - by_type[account, "Removal"] == total

    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run("portfolio-performance", "--data-dir", str(data_dir), "--out", str(out)) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in out.iterdir())


def ghostfolio_check(data_dir: Path, out: Path, capsys) -> None:
    """Ghostfolio's file against its import rules and the warehouse."""
    assert run("ghostfolio", "--data-dir", str(data_dir), "--out", str(out)) == 0
    err = capsys.readouterr().err
    document = json.loads(out.read_text())
    accounts = {a["id"]: int(a["name"].split()[-1]) for a in document["accounts"]}
    manual = {p["symbol"] for p in document["assetProfiles"]}
    assert all(p["dataSource"] == "MANUAL" and p["name"] for p in document["assetProfiles"])

    instrument_of = {  # event ids are unique within an account only
        (a, e): i
        for a, e, i in query(
            data_dir, "SELECT account_id, event_id, instrument FROM position_events"
        )
    }
    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    totals: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for a in document["activities"]:
        assert a["type"] in GHOSTFOLIO_TYPES and CURRENCY.match(a["currency"])
        assert min(a["fee"], a["quantity"], a["unitPrice"]) >= 0
        assert datetime.fromisoformat(a["date"]).year > 1970
        assert a["dataSource"] in ("YAHOO", "MANUAL") and a["accountId"] in accounts
        if a["dataSource"] == "MANUAL" and a["type"] not in ("FEE", "INTEREST"):
            assert a["symbol"] in manual
        account = accounts[a["accountId"]]
        quantity, price = Decimal(str(a["quantity"])), Decimal(str(a["unitPrice"]))
        if a["type"] in ("BUY", "SELL"):
            instrument = instrument_of[account, a["comment"].split()[-1]]
            held[account, instrument] += quantity if a["type"] == "BUY" else -quantity
        totals[account, a["type"]] += quantity * price
        totals[account, a["type"] + " fee"] += Decimal(str(a["fee"]))
    for key, quantity in holdings_now(data_dir).items():
        assert abs(held.pop(key) - quantity) < Decimal("1e-6")
    assert all(abs(q) < Decimal("1e-6") for q in held.values())
    for account, total in income(data_dir, "dividend", "gross").items():
        assert abs(totals[account, "DIVIDEND"] - total) < Decimal("0.01")
    for account, total in income(data_dir, "dividend", "withholding").items():
        assert abs(totals[account, "DIVIDEND fee"] - total) < Decimal("0.01")
    for account, total in income(data_dir, "interest", "net").items():
        assert abs(totals[account, "INTEREST"] - total) < Decimal("1e-6")
    for account, (n, total) in flows(data_dir).items():  # not expressible: said, not dropped
        note = f"account {account}: {n} deposit(s), withdrawal(s) and transfer(s), net "
        note += f"{total.normalize():f}"
        assert note in err

    first = out.read_bytes()
    assert run("ghostfolio", "--data-dir", str(data_dir), "--out", str(out)) == 0
    assert out.read_bytes() == first and out.stat().st_mode & 0o777 == 0o600


def test_portfolio_performance_from_the_api(api_dir, tmp_path, capsys):
    pp_check(api_dir, tmp_path / "pp", capsys)


def test_portfolio_performance_from_reports_only(reports_dir, tmp_path, capsys):
    pp_check(reports_dir, tmp_path / "pp", capsys)


def test_ghostfolio_from_the_api(api_dir, tmp_path, capsys):
    ghostfolio_check(api_dir, tmp_path / "gf.json", capsys)


def test_ghostfolio_from_reports_only(reports_dir, tmp_path, capsys):
    ghostfolio_check(reports_dir, tmp_path / "gf.json", capsys)


def test_an_unknown_account_is_refused_in_one_line(api_dir, tmp_path, capsys):
    code = run("ghostfolio", "--data-dir", str(api_dir), "--out", str(tmp_path / "x.json"),
               "--account", "999")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "999" in err
    assert not (tmp_path / "x.json").exists()


def _trade(i: int, kind: str, quantity: Decimal, ratio: Decimal | None = None) -> Trade:
    instrument = Instrument("XS0000000001", "ABC_US_EQ", "XS0000000001", "ABC", "ABC", "USD", None)
    at = datetime.fromisoformat(f"2024-01-01T00:00:{i % 60:02d}+00:00")
    return Trade(1, f"e{i:05d}", at, kind, quantity, Decimal(1), Decimal(0), "USD", ratio,
                 None, None, instrument)  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["buy", "sell", "split", "adjust"]),
            st.decimals(min_value=Decimal("0.0000000001"), max_value=1000, places=10),
        ),
        max_size=60,
    )
)
def test_shares_rounded_on_the_running_holding(events):
    trades, held = [], Decimal(0)
    for i, (kind, quantity) in enumerate(events):
        if kind == "sell":
            quantity = min(quantity, held)
        ratio = Decimal(2) if kind == "split" else None
        trades.append(_trade(i, kind, quantity, ratio))
        held = held * 2 if kind == "split" else held + (-quantity if kind == "sell" else quantity)
    rows = _trade_rows(list(deliveries(trades)))
    written = sum(
        (Decimal(r[10]) * (1 if r[2] in ("Buy", "Delivery (Inbound)") else -1) for r in rows),
        Decimal(0),
    )
    assert written == held.quantize(SHARE)
