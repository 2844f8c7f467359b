"""Normalised frames: the result type of every normaliser and its exact conversion to Arrow."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from transforms.catalogue import LOAD_METADATA, Table, table
from transforms.values import is_currency_code


@dataclass
class Normalised:
    """Frames by table name, plus what the run should report about the input.

    ``unknown_fields`` holds dotted source paths the normaliser does not know;
    ``problems`` holds one short line per record that was skipped; ``notices`` one line
    per thing worth telling that was still loaded (an unknown report action).
    """

    frames: dict[str, pd.DataFrame]
    unknown_fields: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def odd_currencies(frames: dict[str, pd.DataFrame]) -> list[str]:
    """One line per value of currency columns that is not a code's shape (loaded as written),
    naming the columns it is in; the value is shown escaped (``repr``)."""
    found: dict[str, list[str]] = {}
    for name, frame in frames.items():
        for column in table(name).columns:
            if column.type == "currency" and column.name in frame.columns:
                for value in frame[column.name].dropna().unique():
                    if not is_currency_code(value):
                        found.setdefault(str(value), []).append(f"{name}.{column.name}")
    return [
        f"{value!r:.60} in {', '.join(places)} is not a currency code; stored as written"
        for value, places in sorted(found.items())
    ]


def frame_columns(target: Table) -> list[str]:
    """The columns a normalised frame carries: the table's, without load metadata."""
    return [c for c in target.column_names if c not in LOAD_METADATA]


def empty_frame(name: str) -> pd.DataFrame:
    """A frame with no rows and the declared columns and dtypes of table ``name``."""
    target = table(name)
    return pd.DataFrame(
        {
            c: pd.Series([], dtype=target.column(c).logical.frame_dtype)
            for c in frame_columns(target)
        }
    )


def to_arrow(frame: pd.DataFrame, target: Table | str) -> pa.Table:
    """Convert a normalised frame to the table's exact Arrow schema.

    Decimals are converted without rounding (Arrow refuses a value that would lose
    digits); load metadata columns are taken from the frame when present, else null.
    """
    target = table(target) if isinstance(target, str) else target
    extra = set(frame.columns) - set(target.column_names)
    if extra:
        raise ValueError(f"{target.name}: columns not in the catalogue: {sorted(extra)}")
    arrays = []
    for column in target.columns:
        if column.name in frame.columns:
            arrays.append(_to_array(frame[column.name], column.arrow_type))
        elif column.name in LOAD_METADATA:
            arrays.append(pa.nulls(len(frame), column.arrow_type))
        else:
            raise ValueError(f"{target.name}: frame lacks column {column.name!r}")
    return pa.Table.from_arrays(arrays, schema=target.arrow_schema())


def _to_array(series: pd.Series, arrow_type: pa.DataType) -> pa.Array:
    """One column to Arrow; timestamps and dates are cast safely so nothing is truncated."""
    if isinstance(series.dtype, pd.ArrowDtype):
        return series.array.__arrow_array__().cast(arrow_type)
    if pa.types.is_timestamp(arrow_type) and series.dtype != "datetime64[us, UTC]":
        series = pd.to_datetime(series, utc=True)
    if pa.types.is_date(arrow_type) and pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pa.array(series, from_pandas=True).cast(arrow_type)
    if series.dtype == object:
        return pa.array(series.to_numpy(), type=arrow_type, from_pandas=True)
    return pa.array(series, type=arrow_type, from_pandas=True)
