"""Logical column types: one record per type holding every form the pipeline keeps it in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pyarrow as pa

from transforms.values import (
    ARROW_DECIMAL,
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    coerce_column,
    parse_bool,
    parse_currencies,
    parse_decimals,
    parse_int,
    parse_texts,
    parse_timestamps,
)

# parses a whole column of raw record values, returning (values, errors by position)
ColumnParser = Callable[[Sequence[Any]], tuple[Any, dict[int, str]]]


@dataclass(frozen=True)
class LogicalType:
    """One logical column type and its form in each place it is held.

    ``duckdb`` and ``arrow`` are the warehouse and Parquet types; ``frame_dtype`` the pandas
    dtype between normalising and loading; ``json_read`` the Arrow type the columnar JSON
    reader converts to (None where it cannot read the type); ``parser`` reads a column of
    record values (None where no record field has the type).
    """

    name: str
    duckdb: str
    arrow: pa.DataType
    frame_dtype: str
    json_read: pa.DataType | None
    parser: ColumnParser | None


_DECIMAL_SQL = f"DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})"
_UTC = pa.timestamp("us", tz="UTC")
_UTC_DTYPE = "datetime64[us, UTC]"


def _each(parse: Callable[[Any], Any]) -> ColumnParser:
    """A column parser applying ``parse`` to every value."""
    return partial(coerce_column, parse=parse)


TYPES: dict[str, LogicalType] = {
    t.name: t
    for t in (
        # name, DuckDB, Arrow, frame dtype, JSON reader type, parser
        LogicalType("text", "VARCHAR", pa.string(), "object", pa.string(), parse_texts),
        # text that must be a currency code: the transforms report a record holding anything else
        LogicalType("currency", "VARCHAR", pa.string(), "object", pa.string(), parse_currencies),
        LogicalType("bigint", "BIGINT", pa.int64(), "Int64", pa.int64(), _each(parse_int)),
        LogicalType("double", "DOUBLE", pa.float64(), "float64", None, None),
        LogicalType("boolean", "BOOLEAN", pa.bool_(), "boolean", pa.bool_(), _each(parse_bool)),
        LogicalType(
            "decimal", _DECIMAL_SQL, ARROW_DECIMAL, "object", ARROW_DECIMAL, parse_decimals
        ),
        # read as text by the columnar reader, then parsed as the record path parses it
        LogicalType("timestamp", "TIMESTAMPTZ", _UTC, _UTC_DTYPE, pa.string(), parse_timestamps),
        LogicalType("date", "DATE", pa.date32(), "object", None, None),
    )
}
