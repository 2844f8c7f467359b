"""Ghostfolio's JSON import: accounts, manual asset profiles and activities from the ledger.

Checked against Ghostfolio's import rules (its ``ImportDataDto``, ``CreateOrderDto`` and
``ImportService``): activity types BUY, SELL, DIVIDEND, FEE and INTEREST; ``fee``,
``quantity`` and ``unitPrice`` at least 0; an ISO date; a currency code (derived ones such
as GBp accepted); a symbol with data source YAHOO where the market is known, else MANUAL
with its asset profile in ``assetProfiles`` (FEE and INTEREST need none, but get one so the
names read well). Deposits and withdrawals have no activity type there.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from flows.app.output import text
from flows.app.trackers.ledger import Cash, Instrument, Ledger, Trade
from flows.app.trackers.positions import Delivery, deliveries

NAMESPACE = uuid.UUID("5f0d3b7e-0b1c-4f43-9a51-2d1e7c1b2a10")
ACTIVITY_OF = {"buy": "BUY", "sell": "SELL"}
# Trading 212's currency codes that Ghostfolio spells as its derived (minor unit) currencies
DERIVED = {"GBX": "GBp"}


def stable_id(*parts: object) -> str:
    """A UUID that is the same for the same parts in every run, so reruns write the same."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def render(ledger: Ledger) -> tuple[bytes, list[str]]:
    """The import file's bytes and the notes about what it cannot carry."""
    notes: list[str] = []
    profiles: dict[str, dict[str, Any]] = {}
    activities = []
    for delivery in deliveries(ledger.trades):
        activities.append(_trade(delivery, profiles))
    activities += [_income(item, ledger, profiles) for item in ledger.income]
    activities.sort(key=lambda a: (a["accountId"], a["date"], a["type"], a["symbol"], a["comment"]))
    notes += _deliveries_noted(ledger.trades)
    notes += _flows_noted(ledger)
    notes += ledger.other_cash_notes()
    unknown = [p["name"] for p in profiles.values() if "isin" in p]
    if unknown:
        notes.append(
            f"ghostfolio: {len(unknown)} instrument(s) on a market without a known symbol are "
            f"manual symbols (no prices fetched): {', '.join(sorted(unknown))}"
        )
    document = {
        "meta": {"date": _when(ledger.as_of), "version": "t212-etl"},
        "accounts": [_account(a, c, ledger) for a, c in sorted(ledger.accounts.items())],
        "platforms": [],
        "assetProfiles": [profiles[k] for k in sorted(profiles)],
        "activities": activities,
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode(), notes


def _account(account_id: int, currency: str, ledger: Ledger) -> dict[str, Any]:
    """The account, its balance the cash of the latest snapshot (0 without one)."""
    return {
        "balance": _number(ledger.balances.get(account_id, Decimal(0))),
        "comment": "Trading 212 account exported by t212-etl",
        "currency": currency,
        "id": stable_id("account", account_id),
        "isExcluded": False,
        "name": f"Trading 212 {account_id}",
        "platformId": None,
    }


def _symbol(instrument: Instrument, profiles: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The data source and symbol Ghostfolio resolves ``instrument`` by."""
    market = instrument.market_symbol
    if market:
        return "YAHOO", market
    symbol = instrument.isin or instrument.ticker or instrument.key
    profiles.setdefault(
        symbol,
        {
            "currency": DERIVED.get(instrument.currency or "", instrument.currency),
            "dataSource": "MANUAL",
            "isin": instrument.isin,
            "name": instrument.name,
            "symbol": symbol,
        },
    )
    return "MANUAL", symbol


def _trade(delivery: Delivery, profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    trade = delivery.trade
    source, symbol = _symbol(trade.instrument, profiles)
    kind = ACTIVITY_OF.get(trade.kind) or ("BUY" if delivery.quantity > 0 else "SELL")
    quantity = abs(delivery.quantity)
    return {
        "accountId": stable_id("account", trade.account_id),
        "comment": f"{trade.kind} {trade.event_id}",
        "currency": trade.currency,
        "dataSource": source,
        "date": _when(trade.at),
        "fee": _number(trade.fees),
        "quantity": _number(quantity),
        "symbol": symbol,
        "type": kind,
        "unitPrice": _number(delivery.value / quantity if quantity else Decimal(0)),
    }


def _income(item: Cash, ledger: Ledger, profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    account = stable_id("account", item.account_id)
    base = {"accountId": account, "currency": item.currency, "date": _when(item.at)}
    if item.kind == "dividend":
        instrument = ledger.instrument(item.isin, item.ticker)
        source, symbol = _symbol(instrument, profiles)
        shares = item.shares if item.shares and item.shares > 0 else Decimal(1)
        return base | {
            "comment": "dividend; fee is the tax withheld",
            "dataSource": source,
            "fee": _number(item.withholding),
            "quantity": _number(shares),
            "symbol": symbol,
            "type": "DIVIDEND",
            "unitPrice": _number(item.gross / shares),
        }
    name = "Interest on cash" if item.kind == "interest" else "Fees"
    symbol = stable_id(item.kind, item.account_id)
    profiles.setdefault(
        symbol,
        {"currency": item.currency, "dataSource": "MANUAL", "name": name, "symbol": symbol},
    )
    interest = item.kind == "interest"
    return base | {
        "comment": name.lower(),
        "dataSource": "MANUAL",
        "fee": _number(Decimal(0) if interest else item.net),
        "quantity": _number(Decimal(1) if interest else Decimal(0)),
        "symbol": symbol,
        "type": "INTEREST" if interest else "FEE",
        "unitPrice": _number(item.net if interest else Decimal(0)),
    }


def _deliveries_noted(trades: list[Trade]) -> list[str]:
    counts = Counter(t.kind for t in trades if t.kind not in ACTIVITY_OF)
    return [
        f"ghostfolio: {n} {kind} event(s) written as BUY/SELL of the shares they add or "
        "remove, at the value they carry (0 for splits and adjustments)"
        for kind, n in sorted(counts.items())
    ]


def _flows_noted(ledger: Ledger) -> list[str]:
    notes = []
    for account in sorted(ledger.accounts):
        flows = [f for f in ledger.flows if f.account_id == account]
        if flows:
            total = text(sum((f.net for f in flows), Decimal(0)))
            notes.append(
                f"ghostfolio: account {account}: {len(flows)} deposit(s), withdrawal(s) and "
                f"transfer(s), net {total} {ledger.accounts[account]}, not written: Ghostfolio's "
                "import has no activity type for them (the account's balance is its latest cash "
                "instead)"
            )
    return notes


def _when(at: datetime | None) -> str:
    if at is None:
        return "1970-01-01T00:00:00.000Z"
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _number(value: Decimal) -> float | int:
    """A JSON number: an integer where the value is whole, else the nearest double."""
    return int(value) if value == value.to_integral_value() else float(value)
