"""Portfolio Performance's CSV import: account transactions and portfolio transactions.

Column names and type labels are those of Portfolio Performance's own CSV importer (English):
``Date``, ``Time``, ``Type``, ``Value``, ``Transaction Currency``, ``Gross Amount``,
``Currency Gross Amount``, ``Exchange Rate``, ``Fees``, ``Taxes``, ``Shares``, ``ISIN``,
``Ticker Symbol``, ``Security Name``, ``Note``, ``Cash Account``, ``Securities Account``;
types ``Deposit``, ``Removal``, ``Dividend``, ``Interest``, ``Fees``, ``Buy``, ``Sell``,
``Delivery (Inbound)``, ``Delivery (Outbound)``. Portfolio Performance keeps amounts in
cents and shares to 8 decimal places: amounts are rounded to the cent, and shares are
rounded on the running holding, so every holding in the file equals the true holding
rounded to 8 places, however many trades built it. Import both files with the date format
YYYY-MM-DD, the number format 0,000.00 and the delimiter ``;``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from flows.app.trackers.ledger import Cash, Ledger
from flows.app.trackers.positions import Delivery, deliveries

ACCOUNT_FILE = "account-transactions.csv"
PORTFOLIO_FILE = "portfolio-transactions.csv"
ACCOUNT_COLUMNS = (
    "Date", "Time", "Type", "Value", "Transaction Currency", "Taxes", "Shares", "ISIN",
    "Ticker Symbol", "Security Name", "Note", "Cash Account",
)  # fmt: skip
PORTFOLIO_COLUMNS = (
    "Date", "Time", "Type", "Value", "Transaction Currency", "Gross Amount",
    "Currency Gross Amount", "Exchange Rate", "Fees", "Taxes", "Shares", "ISIN",
    "Ticker Symbol", "Security Name", "Note", "Cash Account", "Securities Account",
)  # fmt: skip
CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")
RATE = Decimal("0.0000000001")
CASH_TYPES = {"dividend": "Dividend", "interest": "Interest", "fee": "Fees"}
TRADE_TYPES = {"buy": "Buy", "sell": "Sell"}


def account_name(account_id: int) -> str:
    """The name of an account's cash and securities accounts in Portfolio Performance."""
    return f"Trading 212 {account_id}"


def render(ledger: Ledger) -> tuple[dict[str, bytes], list[str]]:
    """The two CSV files' bytes by file name, and the notes about what they cannot carry."""
    cash = [_cash_row(item, ledger) for item in ledger.income]
    cash += [_flow_row(item) for item in ledger.flows]
    trades = _trade_rows(list(deliveries(ledger.trades)))
    notes = [
        f"portfolio-performance: {n} split(s) and adjustment(s) written as deliveries of the "
        "shares they add or remove, at no value"
        for n in [sum(1 for t in ledger.trades if t.kind not in TRADE_TYPES | _TRANSFERS)]
        if n
    ]
    notes += ledger.other_cash_notes()
    return {
        ACCOUNT_FILE: _csv(ACCOUNT_COLUMNS, sorted(cash)),
        PORTFOLIO_FILE: _csv(PORTFOLIO_COLUMNS, trades),
    }, notes


_TRANSFERS = {"transfer_in": "Delivery (Inbound)", "transfer_out": "Delivery (Outbound)"}


def _csv(columns: tuple[str, ...], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _cash_row(item: Cash, ledger: Ledger) -> list[str]:
    security = ["", "", ""]
    shares = ""
    if item.kind == "dividend":
        instrument = ledger.instrument(item.isin, item.ticker)
        security = [instrument.isin or "", instrument.ticker or "", instrument.name]
        shares = _amount(item.shares, SHARE) if item.shares else ""
    taxes = _amount(item.withholding, CENT) if item.withholding else ""
    return [
        *_date_time(item),
        CASH_TYPES.get(item.kind, item.kind),
        _amount(abs(item.net), CENT),
        item.currency,
        taxes,
        shares,
        *security,
        item.kind,
        account_name(item.account_id),
    ]


def _flow_row(item: Cash) -> list[str]:
    kind = "Deposit" if item.net > 0 else "Removal"
    return [
        *_date_time(item),
        kind,
        _amount(abs(item.net), CENT),
        item.currency,
        "",
        "",
        "",
        "",
        "",
        item.kind,
        account_name(item.account_id),
    ]


def _trade_rows(moves: list[Delivery]) -> list[list[str]]:
    """Portfolio transactions, shares rounded on the running holding of each instrument."""
    exact: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    written: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    rows = []
    for move in moves:
        trade = move.trade
        key = (trade.account_id, trade.instrument.key)
        exact[key] += move.quantity
        shares = exact[key].quantize(SHARE, ROUND_HALF_EVEN) - written[key]
        written[key] += shares
        kind = TRADE_TYPES.get(trade.kind) or _TRANSFERS.get(trade.kind)
        if kind is None:
            kind = "Delivery (Inbound)" if move.quantity > 0 else "Delivery (Outbound)"
        sign = -1 if kind in ("Sell", "Delivery (Outbound)") else 1
        value = move.value + sign * trade.fees if move.value else Decimal(0)
        instrument = trade.instrument
        rows.append(
            [
                *_date_time(trade),
                kind,
                _amount(value, CENT),
                trade.currency,
                *_forex(move),
                _amount(trade.fees, CENT) if trade.fees else "",
                "",
                _amount(abs(shares), SHARE),
                instrument.isin or "",
                instrument.ticker or "",
                instrument.name,
                f"{trade.kind} {trade.event_id}",
                account_name(trade.account_id),
                account_name(trade.account_id),
            ]
        )
    rows.sort(key=lambda r: (r[15], r[0], r[1], r[13]))
    return rows


def _forex(move: Delivery) -> list[str]:
    """Gross amount, its currency and the rate (account currency per unit) of a trade priced
    in another currency: the rate is the trade's own, taken from the rounded gross so that
    Portfolio Performance's check (rate x gross = value, to the cent) holds."""
    gross = move.trade.gross_in_price_currency()
    if gross is None:
        return ["", "", ""]
    amount, currency = gross
    amount = amount.quantize(CENT, ROUND_HALF_EVEN)
    if not amount:
        return ["", "", ""]
    rate = (move.value / amount).quantize(RATE, ROUND_HALF_EVEN)
    return [format(amount, "f"), currency, format(rate, "f")]


def _date_time(item) -> list[str]:
    return [item.at.strftime("%Y-%m-%d"), item.at.strftime("%H:%M")]


def _amount(value: Decimal | None, unit: Decimal) -> str:
    return "" if value is None else format(value.quantize(unit, ROUND_HALF_EVEN), "f")
