"""The CSV report file: a byte-order mark, only the columns its rows need, oldest row first.

Rows agree with the JSON history: order rows carry ``EOF`` + the order id, dividend rows
the instrument's ISIN and symbol on the payment's date with the tax withheld, interest
rows the transaction's reference. Some share counts are written in exponent notation.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterator

from sandbox.account import AccountBook
from sandbox.wire import from_ms

COLUMNS = (
    "Action",
    "Time (UTC)",
    "ISIN",
    "Ticker",
    "Name",
    "Notes",
    "ID",
    "No. of shares",
    "Price / share",
    "Currency (Price / share)",
    "Exchange rate",
    "Result",
    "Currency (Result)",
    "Total",
    "Currency (Total)",
    "Withholding tax",
    "Currency (Withholding tax)",
    "Stamp duty reserve tax",
    "Currency (Stamp duty reserve tax)",
    "Currency conversion fee",
    "Currency (Currency conversion fee)",
    "French transaction tax",
    "Currency (French transaction tax)",
    "Finra fee",
    "Currency (Finra fee)",
    "Transaction fee",
    "Currency (Transaction fee)",
)
MINIMAL = ("Action", "Time (UTC)", "ID", "Total", "Currency (Total)")
_TAX_COLUMNS = {
    "STAMP_DUTY_RESERVE_TAX": "Stamp duty reserve tax",
    "CURRENCY_CONVERSION_FEE": "Currency conversion fee",
    "FRENCH_TRANSACTION_TAX": "French transaction tax",
    "FINRA_FEE": "Finra fee",
    "TRANSACTION_FEE": "Transaction fee",
}
_TRANSACTION_ACTIONS = {
    "interest": "Interest on cash",
    "deposit": "Deposit",
    "withdrawal": "Withdrawal",
    "fee": "Fee",
    "transfer": "Transfer",
}


def _time(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%S")


def _instrument(book: AccountBook, ticker: str) -> dict:
    """The report names the instrument by ISIN and symbol even where the JSON omits it."""
    found = next((i for i in book.universe if i.ticker == ticker), None)
    if found is None:
        return {"Ticker": ticker}
    return {"ISIN": found.isin, "Ticker": found.short_name, "Name": found.name}


def _shares(quantity, exponent: bool) -> str:
    """Shares as text; exact either way, in exponent notation when asked."""
    return format(abs(quantity), "E") if exponent else str(abs(quantity))


def _order_rows(book: AccountBook, from_ms: int, to_ms: int) -> Iterator[tuple[int, dict]]:
    for ms, item in book.orders.ascending(from_ms, to_ms):
        order, fill = item["order"], item["fill"]
        if fill is None:
            continue
        impact = fill["walletImpact"]
        kind = order["type"].replace("_", " ").capitalize()
        row = {
            "Action": f"{kind} {order['side'].lower()}",
            "Time (UTC)": _time(ms),
            **_instrument(book, order["ticker"]),
            "ID": f"EOF{order['id']}",
            "No. of shares": _shares(fill["quantity"], order["id"] % 13 == 0),
            "Price / share": str(fill["price"]),
            "Currency (Price / share)": order["instrument"]["currency"],
            "Exchange rate": "Not available" if order["id"] % 17 == 0 else str(impact["fxRate"]),
            "Total": str(impact["netValue"]),
            "Currency (Total)": impact["currency"],
        }
        if order["side"] == "SELL":
            row["Result"] = str(impact["realisedProfitLoss"])
            row["Currency (Result)"] = impact["currency"]
        for tax in impact["taxes"]:
            column = _TAX_COLUMNS[tax["name"]]
            row[column] = str(-tax["quantity"])
            row[f"Currency ({column})"] = tax["currency"]
        yield ms, row


def _dividend_rows(book: AccountBook, from_ms: int, to_ms: int) -> Iterator[tuple[int, dict]]:
    for ms, item in book.dividends.ascending(from_ms, to_ms):
        label = item["type"].replace("_", " ").capitalize()
        yield (
            ms,
            {
                "Action": f"Dividend ({label})",
                "Time (UTC)": _time(ms),
                **_instrument(book, item["ticker"]),
                "No. of shares": str(item["quantity"]),
                "Price / share": str(item["grossAmountPerShare"]),
                "Currency (Price / share)": item["tickerCurrency"],
                "Exchange rate": "Not available",
                "Total": str(item["amount"]),
                "Currency (Total)": item["currency"],
                "Withholding tax": str(book.dividends.withholding(item)),
                "Currency (Withholding tax)": item["currency"],
            },
        )


def _transaction_rows(
    book: AccountBook, from_ms: int, to_ms: int, interest: bool, others: bool
) -> Iterator[tuple[int, dict]]:
    series = book.transactions
    lo = series.timeline.index_at_or_before(from_ms - 1) + 1
    hi = series.timeline.index_at_or_before(to_ms)
    for i in range(lo, hi + 1):
        kind, item = series.detailed(i)
        if not (interest if kind == "interest" else others):
            continue
        yield (
            series.time_ms(i),
            {
                "Action": _TRANSACTION_ACTIONS[kind],
                "Time (UTC)": _time(series.time_ms(i)),
                "Notes": "Bank Transfer" if kind in ("deposit", "withdrawal") else "",
                "ID": item["reference"],
                "Total": str(item["amount"]),
                "Currency (Total)": item["currency"],
            },
        )


def report_rows(from_ms: int, to_ms: int, included: dict, book: AccountBook) -> list[dict]:
    """Rows of a report over ``[from_ms, to_ms]``, oldest first."""
    streams = []
    if included.get("includeOrders"):
        streams.append(_order_rows(book, from_ms, to_ms))
    if included.get("includeDividends"):
        streams.append(_dividend_rows(book, from_ms, to_ms))
    interest = bool(included.get("includeInterest"))
    others = bool(included.get("includeTransactions"))
    if interest or others:
        streams.append(_transaction_rows(book, from_ms, to_ms, interest, others))
    return [row for _, row in heapq.merge(*streams, key=lambda pair: pair[0])]


def rows_to_csv(rows: list[dict]) -> bytes:
    """The CSV bytes: BOM, header of the needed columns only, CRLF line ends."""
    used = {k for row in rows for k, v in row.items() if v != ""}
    columns = [c for c in COLUMNS if c in used] or list(MINIMAL)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
