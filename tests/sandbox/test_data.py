"""The data looks like a real private account, carries its irregularities and matches the truth."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox, SandboxConfig
from sandbox.dividends import UNKNOWN_TYPES
from tests.sandbox.conftest import API, FAST_LIMITS, decoded, walk


@pytest.fixture(scope="module")
def served() -> Iterator[dict]:
    """Every resource of the default Invest account, decoded and raw."""
    config = SandboxConfig(time_scale=0.0001, rate_limits=FAST_LIMITS)
    with (
        Sandbox(config) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET), timeout=10) as c,
    ):
        data: dict = {"truth": sb.truth(DEMO_ACCOUNT_ID)}
        for name in ("account/summary", "positions", "metadata/instruments", "metadata/exchanges"):
            response = c.get(f"{API}/{name}")
            data[name.split("/")[-1]] = decoded(response)
            data[name.split("/")[-1] + "_raw"] = response.text
        for name in ("dividends", "orders", "transactions"):
            pages = walk(c, f"{API}/history/{name}?limit=50")
            data[name] = [i for p in pages for i in p]
            data[name + "_raw"] = c.get(f"{API}/history/{name}?limit=50").text
        yield data


def test_truth_matches_what_the_api_serves(served: dict) -> None:
    truth = served["truth"]
    assert truth["dividends"] == {
        "count": len(served["dividends"]),
        "amount": sum(d["amount"] for d in served["dividends"]),
    }
    fills = [o["fill"] for o in served["orders"] if o["fill"] is not None]
    assert truth["orders"] == {
        "count": len(served["orders"]),
        "fills": len(fills),
        "taxes": sum(len(f["walletImpact"]["taxes"]) for f in fills),
        "fill_net_value": sum(f["walletImpact"]["netValue"] for f in fills),
    }
    assert truth["transactions"]["amount"] == sum(t["amount"] for t in served["transactions"])
    positions = served["positions"]
    assert truth["positions"] == {
        "count": len(positions),
        "quantity": sum(p["quantity"] for p in positions),
        "wallet_current_value": sum(p["walletImpact"]["currentValue"] for p in positions),
    }
    assert truth["instruments"] == {"count": len(served["instruments"])}
    events = sum(len(s["timeEvents"]) for e in served["exchanges"] for s in e["workingSchedules"])
    assert truth["exchanges"] == {"count": len(served["exchanges"]), "time_events": events}
    assert (
        served["summary"]["investments"]["currentValue"]
        == truth["positions"]["wallet_current_value"]
    )


def test_default_sizes_are_believable(served: dict) -> None:
    assert len(served["instruments"]) == 3000
    assert 20 <= len(served["positions"]) <= 40
    assert len(served["dividends"]) == 600 and len(served["orders"]) == 1500
    assert len(served["transactions"]) == 1000


def test_instruments_have_the_real_variety(served: dict) -> None:
    instruments = served["instruments"]
    tickers = [i["ticker"] for i in instruments]
    assert len(set(tickers)) == len(tickers)
    assert {"AAPL_US_EQ", "VUSAl_EQ", "SAPd_EQ"} <= set(tickers)
    assert any(t.endswith("l_EQ") and not t.endswith("_EQ_EQ") for t in tickers)
    assert sum(bool(re.search(r"[/. ]", t)) for t in tickers) >= 10
    assert len({i["type"] for i in instruments}) >= 4
    assert {"GBX", "USD", "EUR", "CHF"} <= {i["currencyCode"] for i in instruments}
    schedules = {s["id"] for e in served["exchanges"] for s in e["workingSchedules"]}
    assert {i["workingScheduleId"] for i in instruments} <= schedules
    assert all(re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}\d", i["isin"]) for i in instruments)


def test_positions_in_several_currencies_including_pence(served: dict) -> None:
    positions = served["positions"]
    currencies = {p["instrument"]["currency"] for p in positions}
    assert "GBX" in currencies and len(currencies) >= 3
    assert {p["walletImpact"]["currency"] for p in positions} == {"EUR"}
    for p in positions:
        impact = p["walletImpact"]
        assert impact["unrealizedProfitLoss"] == impact["currentValue"] - impact["totalCost"]
        assert p["quantityAvailableForTrading"] + p["quantityInPies"] == p["quantity"]


def test_orders_by_value_and_quantity_sells_cancels_and_taxes(served: dict) -> None:
    orders = [o["order"] for o in served["orders"]]
    by_value = [o for o in orders if o["strategy"] == "VALUE"]
    by_quantity = [o for o in orders if o["strategy"] == "QUANTITY"]
    assert by_value and all(o["quantity"] is None and o["value"] is not None for o in by_value)
    assert all(o["value"] is None and o["quantity"] is not None for o in by_quantity)
    sells = [o for o in served["orders"] if o["order"]["side"] == "SELL" and o["fill"]]
    assert sells and all(o["fill"]["quantity"] < 0 for o in sells)
    unfilled = [o for o in served["orders"] if o["order"]["status"] in ("CANCELLED", "REJECTED")]
    assert unfilled and all(o["fill"] is None for o in unfilled)
    names = {
        t["name"] for o in served["orders"] if o["fill"] for t in o["fill"]["walletImpact"]["taxes"]
    }
    assert {"STAMP_DUTY_RESERVE_TAX", "CURRENCY_CONVERSION_FEE", "FINRA_FEE"} <= names
    assert all(
        t["quantity"] < 0
        for o in served["orders"]
        if o["fill"]
        for t in o["fill"]["walletImpact"]["taxes"]
    )


def test_transactions_have_every_kind_with_signs(served: dict) -> None:
    by_type: dict[str, list[Decimal]] = {}
    for t in served["transactions"]:
        by_type.setdefault(t["type"], []).append(t["amount"])
    assert set(by_type) == {"DEPOSIT", "WITHDRAW", "FEE", "TRANSFER"}
    assert all(a < 0 for a in by_type["WITHDRAW"] + by_type["FEE"])
    assert sum(a < 5 for a in by_type["DEPOSIT"]) > 300  # daily interest


def test_irregular_numbers_timestamps_and_enums(served: dict) -> None:
    raw = served["orders_raw"] + served["dividends_raw"] + served["positions_raw"]
    assert re.search(r":\d+\.0000000000[,}]", raw)
    assert "0E-10" in raw
    stamps = re.findall(
        r'"(?:paidOn|createdAt|dateTime)":"([^"]+)"', raw + served["transactions_raw"]
    )
    assert any(s.endswith("Z") and "." not in s for s in stamps)
    assert any(s.endswith("Z") and "." in s for s in stamps)
    assert any(s.endswith("+03:00") for s in stamps)
    assert {d["type"] for d in served["dividends"]} & set(UNKNOWN_TYPES)
    assert any(d["instrument"] is None for d in served["dividends"])


def test_extra_fields_are_opt_in() -> None:
    config = SandboxConfig(time_scale=0.0001, extra_fields=True)
    with Sandbox(config) as sb:
        body = httpx.get(sb.base_url + f"{API}/history/dividends", auth=(DEMO_KEY, DEMO_SECRET))
    assert "withholdingTax" in body.json()["items"][0]
