"""What the trackers' import files are made of, read once from the published warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from flows.app.output import text
from warehouse import connect_readonly

# Exchange names as Trading 212 gives them, and the suffix market-data symbols carry there.
MARKET_SUFFIXES = {
    "NYSE": "",
    "NASDAQ": "",
    "OTC Markets": "",
    "London Stock Exchange": ".L",
    "Deutsche Börse Xetra": ".DE",
    "Euronext Paris": ".PA",
    "Euronext Amsterdam": ".AS",
    "Euronext Brussels": ".BR",
    "Euronext Lisbon": ".LS",
    "Borsa Italiana": ".MI",
    "Bolsa de Madrid": ".MC",
    "SIX Swiss Exchange": ".SW",
    "Toronto Stock Exchange": ".TO",
    "Wiener Börse": ".VI",
}

_TRADES = """
    SELECT e."account_id", e."event_id", e."at", e."kind", e."quantity", e."value", e."fees",
           e."currency", e."ratio", e."price", e."price_currency", e."instrument", e."ticker",
           coalesce(e."isin", i."isin"),
           coalesce(i."name", e."ticker", e."instrument"), i."short_name",
           coalesce(i."currency_code", e."price_currency"), x."name"
    FROM "position_events" e
    LEFT JOIN "instruments" i ON i."ticker" = e."ticker"
    LEFT JOIN (SELECT DISTINCT "working_schedule_id", "exchange_id"
               FROM "working_schedule_events") w
      ON w."working_schedule_id" = i."working_schedule_id"
    LEFT JOIN "exchanges" x ON x."exchange_id" = w."exchange_id"
    WHERE e."account_id" IN ({ids})
    ORDER BY e."account_id", e."instrument", e."at", e."event_id"
"""
_INSTRUMENTS = """
    SELECT coalesce(i."isin", i."ticker"), i."ticker", i."isin", coalesce(i."name", i."ticker"),
           i."short_name", i."currency_code", x."name"
    FROM "instruments" i
    LEFT JOIN (SELECT DISTINCT "working_schedule_id", "exchange_id"
               FROM "working_schedule_events") w
      ON w."working_schedule_id" = i."working_schedule_id"
    LEFT JOIN "exchanges" x ON x."exchange_id" = w."exchange_id"
    WHERE i."ticker" IN (SELECT "ticker" FROM "income_items" WHERE "account_id" IN ({ids}))
       OR i."isin" IN (SELECT "isin" FROM "income_items" WHERE "account_id" IN ({ids}))
    ORDER BY i."ticker"
"""
_INCOME = """
    SELECT "account_id", "at", "kind", "gross", "withholding", "net", "currency", "ticker",
           "isin", "shares"
    FROM "income_items"
    WHERE "kind" IN ('dividend', 'interest') AND "account_id" IN ({ids})
    ORDER BY "account_id", "at", "kind", "ticker", "net"
"""
_FEES = """
    SELECT "account_id", "date_time", 'fee', abs("amount"), 0, abs("amount"), "currency",
           NULL, NULL, NULL
    FROM "cash_transactions" WHERE "kind" = 'fee' AND "account_id" IN ({ids})
    ORDER BY "account_id", "date_time", "reference"
"""
_FLOWS = """
    SELECT "account_id", "at", "amount", "currency", "source" FROM "external_flows"
    WHERE "account_id" IN ({ids}) ORDER BY "account_id", "at", "source"
"""
_BALANCES = """
    SELECT "account_id", "cash_available_to_trade" FROM "account_summaries"
    WHERE "account_id" IN ({ids})
    QUALIFY row_number() OVER (PARTITION BY "account_id" ORDER BY "snapshot_at" DESC) = 1
"""
# cash movements no tracker file here carries: counted, so they are named, not dropped
_OTHER_CASH = """
    SELECT "account_id", "kind", count(*), sum("amount") FROM "cash_transactions"
    WHERE "account_id" IN ({ids})
      AND "kind" NOT IN ('deposit', 'withdraw', 'withdrawal', 'interest', 'fee')
      AND NOT EXISTS (SELECT 1 FROM "external_flows" f
                      WHERE f."account_id" = "cash_transactions"."account_id"
                        AND f."source" = 'api ' || "cash_transactions"."reference")
    GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True)
class Instrument:
    """An instrument as the trackers need it: names, ISIN, currency and market."""

    key: str
    ticker: str | None
    isin: str | None
    name: str
    short_name: str | None
    currency: str | None
    exchange: str | None

    @property
    def market_symbol(self) -> str | None:
        """The market-data symbol (Yahoo Finance style), or None where the market is unknown."""
        suffix = MARKET_SUFFIXES.get(self.exchange or "")
        if suffix is None or not self.short_name:
            return None
        return self.short_name.replace(".", "-").replace("/", "-").replace(" ", "-") + suffix


@dataclass(frozen=True)
class Trade:
    """A change of a holding: buy, sell, split, transfer or adjustment, in account currency."""

    account_id: int
    event_id: str
    at: datetime
    kind: str
    quantity: Decimal
    value: Decimal
    fees: Decimal
    currency: str
    ratio: Decimal | None
    price: Decimal | None
    price_currency: str | None
    instrument: Instrument

    def gross_in_price_currency(self) -> tuple[Decimal, str] | None:
        """The trade's gross value in the currency its price is quoted in (pence as pounds),
        where that differs from the account's currency."""
        if not self.price or not self.price_currency or self.kind not in ("buy", "sell"):
            return None
        price, currency = self.price, self.price_currency
        if currency == "GBX":
            price, currency = price / 100, "GBP"
        if currency == self.currency:
            return None
        return self.quantity * price, currency


@dataclass(frozen=True)
class Cash:
    """Money in or out: a dividend, interest, a fee (``kind``) or an external flow."""

    account_id: int
    at: datetime
    kind: str
    gross: Decimal
    withholding: Decimal
    net: Decimal
    currency: str
    ticker: str | None = None
    isin: str | None = None
    shares: Decimal | None = None


@dataclass
class Ledger:
    """Everything one export writes, per the accounts asked for, and what it cannot carry."""

    accounts: dict[int, str]
    as_of: datetime | None
    trades: list[Trade] = field(default_factory=list)
    income: list[Cash] = field(default_factory=list)
    flows: list[Cash] = field(default_factory=list)
    other_cash: list[tuple[int, str, int, Decimal]] = field(default_factory=list)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    balances: dict[int, Decimal] = field(default_factory=dict)

    def other_cash_notes(self) -> list[str]:
        """One line per account and cash kind that no tracker file here carries."""
        return [
            f"account {a}: {n} cash transaction(s) of kind {kind!r} (net {text(total)}) not "
            "written: the format has no type for them"
            for a, kind, n, total in self.other_cash
        ]

    def instrument(self, isin: str | None, ticker: str | None) -> Instrument:
        """The instrument of an ISIN or ticker; a bare one where the warehouse knows neither."""
        for key in (isin, ticker):
            if key and key in self.instruments:
                return self.instruments[key]
        key = isin or ticker or "unknown"
        return Instrument(key, ticker, isin, ticker or key, None, None, None)


class UnknownAccount(LookupError):
    """An account asked for is not in the warehouse."""


def read_ledger(data_dir: Path, accounts: Sequence[str] | None = None) -> Ledger:
    """The ledger of ``accounts`` (ids; default every account) from the published warehouse."""
    con = connect_readonly(data_dir)
    try:
        known = _accounts(con)
        ids = _chosen(known, accounts)
        ledger = Ledger({i: known[i] for i in ids}, _as_of(con))
        if not ids:
            return ledger
        where = ", ".join(str(i) for i in ids)
        ledger.trades = [_trade(row) for row in _rows(con, _TRADES, where)]
        known_instruments = [t.instrument for t in ledger.trades]
        known_instruments += [Instrument(*row) for row in _rows(con, _INSTRUMENTS, where)]
        for instrument in known_instruments:
            for key in (instrument.ticker, instrument.isin):
                if key:
                    ledger.instruments.setdefault(key, instrument)
        ledger.income = [Cash(*row) for row in _rows(con, _INCOME, where)]
        ledger.income += [Cash(*row) for row in _rows(con, _FEES, where)]
        ledger.flows = [
            Cash(a, at, "deposit" if amount > 0 else "withdrawal", amount, Decimal(0), amount, c)
            for a, at, amount, c, _ in _rows(con, _FLOWS, where)
        ]
        ledger.other_cash = [tuple(row) for row in _rows(con, _OTHER_CASH, where)]
        ledger.balances = dict(_rows(con, _BALANCES, where))
    finally:
        con.close()
    return ledger


def _rows(con: duckdb.DuckDBPyConnection, sql: str, ids: str) -> list[tuple[Any, ...]]:
    return con.execute(sql.format(ids=ids)).fetchall()


def _accounts(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Every account the warehouse holds rows for, with its currency."""
    rows = con.execute(
        """SELECT "account_id", any_value("currency") FROM (
               SELECT "account_id", "currency" FROM "account_summaries"
               UNION ALL SELECT "account_id", "currency" FROM "position_events"
               UNION ALL SELECT "account_id", "currency" FROM "income_items")
           GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    return {int(a): c for a, c in rows}


def _chosen(known: dict[int, str], accounts: Sequence[str] | None) -> list[int]:
    if not accounts:
        return sorted(known)
    chosen = []
    for given in accounts:
        if not given.strip().isdigit() or int(given) not in known:
            listed = ", ".join(str(a) for a in known) or "none yet"
            raise UnknownAccount(
                f"account {given!r} is not in the warehouse (accounts: {listed}): give one "
                "of those ids with --account"
            )
        chosen.append(int(given))
    return sorted(set(chosen))


def _as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the warehouse last changed: the newest run's end (so a rerun writes the same)."""
    return con.execute('SELECT max("finished_at") FROM "runs"').fetchone()[0]


def _trade(row: tuple[Any, ...]) -> Trade:
    *figures, key = row[:12]
    return Trade(*figures, instrument=Instrument(key, *row[12:]))
