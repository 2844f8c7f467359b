"""Query output: CSV cells a spreadsheet would run as formulas are neutralised by default."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from flows.app.output import FORMULA_TRIGGERS, format_csv

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")']),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.integers(),
    st.none(),
)


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@given(st.lists(st.lists(cells, min_size=2, max_size=2), max_size=5), st.text(max_size=6))
def test_no_text_cell_reaches_a_spreadsheet_as_a_formula(rows, name):
    header, *body = _parse(format_csv([name, "n"], rows))
    for written, value in zip(
        (header[0], *(r[0] for r in body)), (name, *(r[0] for r in rows)), strict=True
    ):
        if isinstance(value, str) and value[:1] in FORMULA_TRIGGERS:
            assert written == "'" + value
        elif isinstance(value, str):
            assert written == value
    for line, row in zip(body, rows, strict=True):
        for written, value in zip(line, row, strict=True):
            if isinstance(value, Decimal | int):
                assert Decimal(written) == value, "numbers are never altered"


def test_raw_csv_keeps_cells_as_they_are():
    rows = [["=cmd|' /C calc'!A0", Decimal("-1.50")]]
    assert _parse(format_csv(["a", "b"], rows))[1] == ["'=cmd|' /C calc'!A0", "-1.5"]
    assert _parse(format_csv(["a", "b"], rows, safe=False))[1] == ["=cmd|' /C calc'!A0", "-1.5"]


TERMINAL_CONTROLS = "\x1b]0;x\x07\x1b[2J\x9b\x7f\u202e\r\n\t"


@given(st.lists(st.text(alphabet=st.sampled_from(TERMINAL_CONTROLS + "ab\\é€"), max_size=12)))
def test_tables_show_no_control_character_raw(values):
    from flows.app.output import format_table

    shown = format_table([TERMINAL_CONTROLS], [[v] for v in values])
    body = shown.replace("\n", "")
    assert body.isprintable(), repr(shown)
    assert shown.count("\n") == len(values) + 2


@given(st.lists(st.text(max_size=12), max_size=4))
def test_json_keeps_values_exact_and_escapes_controls(values):
    import json

    from flows.app.output import format_json

    written = format_json(["v"], [[v] for v in values])
    assert [r["v"] for r in json.loads(written)] == values
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in written.replace("\n", ""))
    assert "\u202e" not in written


def test_log_lines_show_no_control_character_raw():
    import logging

    from flows.app.output import ShownFormatter

    record = logging.LogRecord(
        "t212_etl", logging.WARNING, "f", 1, "ticker %s", ("A\x1b[2J\n",), None
    )
    line = ShownFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING ticker A\\x1b[2J\\n"
