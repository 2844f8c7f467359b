"""Trading 212 CSV reports: whatever columns a file has, to exact rows of ``activity``."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from transforms.catalogue import table
from transforms.frames import Normalised, empty_frame, frame_columns
from transforms.values import parse_decimal, parse_timestamps

TABLE = table("activity")
# Columns the file does not carry: they are derived from it.
_DERIVED = frozenset({"account_id", "id_derived", "order_id"})
_FROM_FILE = [c for c in frame_columns(TABLE) if c not in _DERIVED]
_MONEY = frozenset(
    c.name
    for c in TABLE.columns
    if c.type == "decimal" and f"{c.name}_currency" in TABLE.column_names
)
# Header spellings whose snake_case is not the column name.
_ALIASES = {"time_utc": "time", "no_of_shares": "shares"}
_CURRENCY_OF = re.compile(r"Currency \((.+)\)")
_IN_CURRENCY = re.compile(r"(.+?) \(([A-Z]{3})\)")
_CODE = re.compile(r"[A-Z]{3}")
_ORDER_ID = re.compile(r"EOF(\d{1,18})")
_NOT_AVAILABLE = "not available"
# Values of the row that name it when it has no ID: stable whatever columns the file had.
_CONTENT = ("action", "time", "isin", "ticker", "shares", "price_per_share", "total",
            "total_currency", "withholding_tax", "notes")  # fmt: skip
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


def _rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
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


def _number(text: str, where: str) -> Decimal | None:
    if text.lower() == _NOT_AVAILABLE:
        return None
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise ReportFileError(f"{where}: {exc}") from None


def _cell(column: str, text: str, where: str) -> Any:
    if not text:
        return None
    kind = TABLE.column(column).type
    if kind == "decimal":
        return _number(text, where)
    if column.endswith("_currency") and not _CODE.fullmatch(text):
        raise ReportFileError(f"{where}: {text[:20]!r} is not a currency code")
    return text


def read_report(body: bytes, *, account_id: int) -> ParsedReport:
    """Parse one report file; raises ReportFileError (one line) when it cannot be read whole."""
    header, rows = _rows(_decode(body))
    targets, unknown = header_targets(header)
    names = [t for t, _ in targets if t]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ReportFileError(f"the header names {', '.join(repeated)} twice")
    if "action" not in names or "time" not in names:
        raise ReportFileError(
            "not a Trading 212 report: the header has no Action and Time columns "
            f"({', '.join(c[:30] for c in header[:6]) or 'nothing'})"
        )
    columns: dict[str, list[Any]] = {c: [None] * len(rows) for c in _FROM_FILE}
    for i, (line, row) in enumerate(rows):
        for (column, currency), text, label in zip(targets, row, header, strict=True):
            if column:
                value = _cell(column, text.strip(), f"line {line}, column {label!r}")
                columns[column][i] = value
                if currency and value is not None:
                    columns[f"{column}_currency"][i] = currency
        if not columns["action"][i]:
            raise ReportFileError(f"line {line}: the row has no Action")
    times, errors = parse_timestamps(columns["time"])
    missing = [i for i, v in enumerate(columns["time"]) if v is None]
    if errors or missing:
        i = min([*errors, *missing])
        raise ReportFileError(f"line {rows[i][0]}: not a time: {columns['time'][i]!r:.40}")
    columns["time"] = times
    return _assemble(columns, [line for line, _ in rows], account_id, unknown)


def _content_key(columns: dict[str, list[Any]], i: int) -> str:
    parts = []
    for name in _CONTENT:
        value = columns[name][i]
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        elif isinstance(value, pd.Timestamp):
            value = value.isoformat()
        parts.append(f"{name}={'' if value is None else value}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _assemble(
    columns: dict[str, list[Any]], lines: list[int], account_id: int, unknown: list[str]
) -> ParsedReport:
    n = len(lines)
    ids, derived, order_ids, seen = [], [], [], Counter()
    for i in range(n):
        given = columns["id"][i]
        if given:
            ids.append(given)
            derived.append(False)
        else:
            content = _content_key(columns, i)
            seen[content] += 1
            ids.append(f"row:{content}:{seen[content]}")
            derived.append(True)
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
    notices = _unknown_actions(columns["action"])
    repeated = frame["id"].duplicated(keep="first") if n else []
    for i in [int(i) for i in range(n) if repeated[i]]:
        notices.append(f"line {lines[i]}: ID {ids[i][:40]} repeats; the first row is kept")
    frame = frame[~repeated].reset_index(drop=True) if n else frame
    return ParsedReport(frame, unknown, notices)


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

    Overlapping files may repeat rows: the first occurrence of a key wins here and the
    merge de-duplicates against what is stored.
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
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(TABLE.name)
    frame = frame[~frame["id"].duplicated(keep="first")].reset_index(drop=True)
    return Normalised({TABLE.name: frame}, unknown, [], notices)
