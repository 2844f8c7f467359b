"""What a user is shown: query results as a readable table, CSV or JSON (exact decimals,
UTC times), and log lines with no control character a terminal would act on."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MAX_CELL = 60
# first characters that make a spreadsheet read a cell as a formula
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
# characters a terminal acts on (C0, DEL, C1) or that reorder what it shows (bidi controls)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# those JSON leaves raw in its strings (it escapes the C0 ones itself)
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def text(value: Any) -> str:
    """One value as text: exact decimals without trailing zeros, ISO times, empty for null."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        digits = format(value, "f")
        return digits.rstrip("0").rstrip(".") if "." in digits else digits
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def shown(value: str) -> str:
    """``value`` with every control character escaped, safe to print to a terminal."""
    return _CONTROLS.sub(_escape, value)


class ShownFormatter(logging.Formatter):
    """Log lines with the message's control characters escaped (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown(super().formatMessage(record))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table; numbers right-aligned, long cells cut."""
    cells = [[shown(text(v)) for v in row] for row in rows]
    columns = [shown(c) for c in columns]
    cells = [[c if len(c) <= MAX_CELL else c[: MAX_CELL - 1] + "…" for c in row] for row in cells]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in rows) and rows
        for i in range(len(columns))
    ]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        pairs = enumerate(zip(values, widths, strict=True))
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in pairs).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]], safe: bool = True) -> str:
    """RFC 4180 CSV with a header row.

    With ``safe`` (the default) a text cell that a spreadsheet would run as a formula
    (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading
    ``'``; numbers are written as they are, so negative amounts stay numbers.
    """
    cell = _neutralised if safe else text
    buffer = io.StringIO()
    # CRLF as RFC 4180 says: with "\n" alone, a cell holding "\r" would not be quoted
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(c) for c in columns])
    writer.writerows([[cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def _neutralised(value: Any) -> str:
    written = text(value)
    if isinstance(value, str) and written[:1] in FORMULA_TRIGGERS:
        return "'" + written
    return written


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A JSON array of objects; decimals as strings so no digit is lost.

    Control characters are written as ``\\u`` escapes, which JSON reads back exactly.
    """
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    written = json.dumps(records, default=text, indent=1, ensure_ascii=False)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", written)


FORMATS = {"table": format_table, "csv": format_csv, "json": format_json}
