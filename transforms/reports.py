"""Trading 212 CSV reports: whatever columns a file has, to exact rows of ``activity``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import pandas as pd

from transforms.catalogue import table
from transforms.frames import Normalised, empty_frame, frame_columns
from transforms.values import parse_decimal, parse_timestamps

TABLE = table("activity")
# Columns the file does not carry: they are derived from it.
_DERIVED = frozenset({"account_id", "id", "id_derived", "order_id", "extra"})
_FROM_FILE = [c for c in frame_columns(TABLE) if c not in _DERIVED]
_MONEY = frozenset(
    c.name
    for c in TABLE.columns
    if c.type == "decimal" and f"{c.name}_currency" in TABLE.column_names
)
# Header spellings whose snake_case is not the column name.
_ALIASES = {"time_utc": "time", "no_of_shares": "shares", "id": "report_id"}
_CURRENCY_OF = re.compile(r"Currency \((.+)\)")
_IN_CURRENCY = re.compile(r"(.+?) \(([A-Z]{3})\)")
_ORDER_ID = re.compile(r"EOF(\d{1,18})")
_NOT_AVAILABLE = "not available"
# Amounts Trading 212 books in the account currency (the currency of ``Total``).
_IN_ACCOUNT_CURRENCY = frozenset({"result", "stamp_duty", "stamp_duty_reserve_tax",
    "currency_conversion_fee", "french_transaction_tax", "finra_fee", "transaction_fee",
    "deposit_fee", "charge_amount"})  # fmt: skip
# a number written with a decimal comma, as a spreadsheet re-saving with ``;`` does
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
# What a row records of its event in every layout since 2019: the identity of a row.
# Currencies, names, notes, results, taxes and fees are left out: layouts disagree on
# whether they carry them, and an event must be the same event in every file listing it.
_IDENTITY = ("report_id", "action", "time", "isin", "shares", "price_per_share", "total")
KNOWN_ACTIONS = frozenset(
    {
        *(f"{kind} {side}" for kind in ("Market", "Limit", "Stop", "Stop limit")
          for side in ("buy", "sell")),
        "Deposit", "Withdrawal", "Interest on cash", "Lending interest", "Currency conversion",
        "Stock split", "Stock split open", "Stock split close", "Result adjustment",
        "Spending cashback", "Card debit", "Card credit", "Transfer", "Fee", "Custody fee",
        "New card cost", "Stock distribution", "Corporate action", "Dividend adjustment",
    }
)  # fmt: skip


class ReportFileError(ValueError):
    """A file that is not a readable Trading 212 report; the message is one line."""


@dataclass
class ParsedReport:
    """One file's rows as a frame of ``activity``, and what to tell about it."""

    frame: pd.DataFrame
    unknown_columns: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def snake(header: str) -> str:
    """``Price / share`` -> ``price_per_share``, ``No. of shares`` -> ``shares``."""
    name = re.sub(r"[^a-z0-9]+", "_", header.lower().replace(" / ", " per ")).strip("_")
    return _ALIASES.get(name, name)


def header_targets(header: Sequence[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """For each header cell (column, fixed currency or None), plus the unknown headers.

    ``Currency (Total)`` names the currency of ``total``; ``Total (EUR)`` is ``total``
    in EUR; anything not in the catalogue maps to ``("", None)`` and is listed.
    """
    targets, unknown = [], []
    for cell in header:
        cell = cell.strip()
        currency_of = _CURRENCY_OF.fullmatch(cell)
        in_currency = _IN_CURRENCY.fullmatch(cell)
        if currency_of and snake(currency_of[1]) in _MONEY:
            targets.append((f"{snake(currency_of[1])}_currency", None))
        elif in_currency and snake(in_currency[1]) in _MONEY:
            targets.append((snake(in_currency[1]), in_currency[2]))
        elif snake(cell) in _FROM_FILE:
            targets.append((snake(cell), None))
        else:
            targets.append(("", None))
            unknown.append(cell)
    return targets, unknown


def _decode(body: bytes) -> str:
    if not body.strip():
        raise ReportFileError("the file is empty")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:1000]:
        raise ReportFileError("the file is UTF-16 or binary, not a UTF-8 CSV report")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise ReportFileError(
            f"line {line}: byte 0x{body[exc.start]:02x} is not UTF-8; Trading 212 reports are "
            "UTF-8 (was the file re-saved in another encoding?)"
        ) from None


def _delimiter(text: str) -> str:
    """``,`` as Trading 212 writes reports, or ``;`` where a spreadsheet re-saved one."""
    header = text.split("\n", 1)[0]
    if ";" in header and "," in header:
        raise ReportFileError(
            "the header mixes ';' and ',' as separators: save the file again with one "
            "separator (Trading 212 writes ',')"
        )
    return ";" if ";" in header else ","


def _rows(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, [])
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise ReportFileError(
            f"line {reader.line_num}: not valid CSV ({exc}); the file is truncated or damaged"
        ) from None
    for line, row in rows:
        if len(row) != len(header):
            raise ReportFileError(
                f"line {line} has {len(row)} fields where the header has {len(header)}: "
                "the file is truncated or damaged"
            )
    return header, rows


def _number(text: str, where: str, comma: bool) -> Decimal | None:
    if text.lower() == _NOT_AVAILABLE:
        return None
    if comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise ReportFileError(f"{where}: {exc}") from None


def _cell(column: str, text: str, where: str, comma: bool) -> Any:
    if not text:
        return None
    kind = TABLE.column(column).type
    if kind == "decimal":
        return _number(text, where, comma)
    return text


def read_report(body: bytes, *, account_id: int) -> ParsedReport:
    """Parse one report file; raises ReportFileError (one line) when it cannot be read whole."""
    text = _decode(body)
    delimiter = _delimiter(text)
    header, rows = _rows(text, delimiter)
    targets, unknown = header_targets(header)
    names = [t for t, _ in targets if t] + unknown
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ReportFileError(f"the header names {', '.join(repeated)} twice")
    if "action" not in names or "time" not in names:
        raise ReportFileError(
            "not a Trading 212 report: the header has no Action and Time columns "
            f"({', '.join(c[:30] for c in header[:6]) or 'nothing'})"
        )
    columns: dict[str, list[Any]] = {c: [None] * len(rows) for c in (*_FROM_FILE, "extra")}
    for i, (line, row) in enumerate(rows):
        extra = {}
        for (column, currency), cell, label in zip(targets, row, header, strict=True):
            if not column:
                if cell.strip():
                    extra[label.strip()] = cell.strip()
                continue
            where = f"line {line}, column {label!r}"
            value = _cell(column, cell.strip(), where, delimiter == ";")
            columns[column][i] = value
            if currency and value is not None:
                columns[f"{column}_currency"][i] = currency
        columns["extra"][i] = json.dumps(extra, sort_keys=True) if extra else None
        if not columns["action"][i]:
            raise ReportFileError(f"line {line}: the row has no Action")
    notices = _account_currency(columns, header, targets)
    times, errors = parse_timestamps(columns["time"])
    missing = [i for i, v in enumerate(columns["time"]) if v is None]
    if errors or missing:
        i = min([*errors, *missing])
        raise ReportFileError(f"line {rows[i][0]}: not a time: {columns['time'][i]!r:.40}")
    columns["time"] = times
    parsed = _assemble(columns, [line for line, _ in rows], account_id, unknown)
    parsed.notices[:0] = notices
    return parsed


def _account_currency(
    columns: dict[str, list[Any]], header: Sequence[str], targets: list[tuple[str, str | None]]
) -> list[str]:
    """Give amounts whose file names no currency for them the row's ``Total`` currency.

    Some layouts carry fees (``Transaction fee``, ``Finra fee``, ``French transaction
    tax``) with no currency column and none in the name. Trading 212 charges them in the
    account currency, which is the currency of ``Total``; without one they stay NULL.
    Returns one notice per such column.
    """
    named = {t[:-9] for t, _ in targets if t.endswith("_currency")}
    named |= {t for t, currency in targets if currency}
    notices = []
    for (column, _), label in zip(targets, header, strict=True):
        if column not in _IN_ACCOUNT_CURRENCY or column in named:
            continue
        given = columns[f"{column}_currency"]
        for i, value in enumerate(columns[column]):
            if value is not None and given[i] is None:
                given[i] = columns["total_currency"][i]
        notices.append(
            f"column {label.strip()!r} names no currency: taken as each row's Total currency"
        )
    return notices


def _identity(columns: dict[str, list[Any]], i: int) -> str:
    """A digest of what row ``i`` records (see ``_IDENTITY``), the same in every layout:
    numbers normalised, the time as a UTC instant to the second, the ISIN or else the
    ticker."""
    parts = []
    for name in _IDENTITY:
        value = columns[name][i]
        if name == "isin" and not value:
            value = columns["ticker"][i]
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        elif isinstance(value, pd.Timestamp):
            value = value.floor("s").isoformat()
        parts.append(f"{name}={'' if value is None else value}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _assemble(
    columns: dict[str, list[Any]], lines: list[int], account_id: int, unknown: list[str]
) -> ParsedReport:
    """The frame of one file's rows, each row an event keyed by what it records.

    Within one file every row is an event of its own: an order filled in parts is one row
    per fill, all with the order's ID, and two fills alike in everything are two rows. The
    key is the row's identity digest and its occurrence number among the file's rows of
    that identity, so the same event gets the same key in every file that lists it, and
    merging overlapping files keeps each event in the largest number one file reports.
    """
    n = len(lines)
    ids, derived, order_ids, seen = [], [], [], Counter()
    for i in range(n):
        given = columns["report_id"][i]
        identity = _identity(columns, i)
        seen[identity] += 1
        ids.append(f"{given or 'row'}:{identity}:{seen[identity]}")
        derived.append(not given)
        match = _ORDER_ID.fullmatch(given or "")
        order_ids.append(int(match[1]) if match else None)
    data = {
        "account_id": pd.array([account_id] * n, dtype="Int64"),
        **columns,
        "id": ids,
        "id_derived": pd.array(derived, dtype="boolean"),
        "order_id": pd.array(order_ids, dtype="Int64"),
    }
    frame = pd.DataFrame(
        {c: pd.Series(data[c], dtype=object) if isinstance(data[c], list) else data[c]
         for c in frame_columns(TABLE)}
    ) if n else empty_frame(TABLE.name)  # fmt: skip
    return ParsedReport(frame, unknown, _unknown_actions(columns["action"]))


def _unknown_actions(actions: list[str]) -> list[str]:
    counts = Counter(
        a for a in actions if a not in KNOWN_ACTIONS and not a.startswith("Dividend (")
    )
    return [
        f"unknown Action {action!r} ({n} rows): loaded as it is"
        for action, n in sorted(counts.items())
    ]


def normalise_reports(files: Sequence[tuple[str, bytes]], *, account_id: int) -> Normalised:
    """Report files (source name, bytes) -> ``activity``; a bad file raises, naming it.

    Overlapping files repeat events under the same keys: each key is kept once (its first
    file's row), so an event counts as often as the file listing it most often says, and
    the merge does the same against what is stored.
    """
    frames, unknown, notices = [], set(), []
    for source, body in files:
        try:
            parsed = read_report(body, account_id=account_id)
        except ReportFileError as exc:
            raise ReportFileError(f"{source}: {exc}") from None
        frames.append(parsed.frame)
        unknown |= {f"column {c!r}" for c in parsed.unknown_columns}
        notices += [f"{source}: {notice}" for notice in parsed.notices]
        notices += [
            f"{source}: column {c!r} is not one the parser knows: its values are kept in extra"
            for c in parsed.unknown_columns
        ]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(TABLE.name)
    frame = frame[~frame["id"].duplicated(keep="first")].reset_index(drop=True)
    return Normalised({TABLE.name: frame}, unknown, [], notices)


class ReportFileLike(Protocol):
    """A downloaded or imported report: where it came from and its bytes."""

    source: str
    body: bytes


def normalise(files: Sequence[ReportFileLike], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the report files of a run (``at`` unused: rows carry times)."""
    return normalise_reports([(f.source, f.body) for f in files], account_id=account_id)
