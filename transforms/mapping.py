"""Declarative record-to-row mappings and the one generic normaliser that applies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from transforms.catalogue import Table, table
from transforms.frames import Normalised, frame_columns
from transforms.types import TYPES, LogicalType
from transforms.values import column_name

Errors = dict[int, str]


@dataclass(frozen=True)
class Mapping:
    """How one kind of record becomes rows of one table.

    ``fields`` are dotted source paths whose column is the flattened snake_case path, or
    ``(paths, column)`` pairs where ``paths`` may list alternatives (first non-null wins).
    ``known`` lists further paths read elsewhere (child lists), so they are not reported
    as unknown. Column types come from the catalogue.
    """

    table: str
    fields: tuple[str | tuple[str | tuple[str, ...], str], ...]
    known: tuple[str, ...] = ()

    def sources(self) -> list[tuple[tuple[str, ...], str]]:
        """(alternative paths, column) for every field."""
        out = []
        for item in self.fields:
            if isinstance(item, str):
                out.append(((item,), column_name(item)))
            else:
                paths, column = item
                out.append(((paths,) if isinstance(paths, str) else paths, column))
        return out

    def known_paths(self) -> set[str]:
        """Every source path this mapping accounts for."""
        return {p for paths, _ in self.sources() for p in paths} | set(self.known)


@dataclass
class Columns:
    """Parsed columns of a batch of records, with the first error found per record."""

    values: dict[str, Any]
    errors: Errors
    size: int

    def fail(self, errors: Errors, column: str) -> None:
        """Record errors of one column, keeping the first message per record."""
        for i, reason in errors.items():
            self.errors.setdefault(i, f"{column}: {reason}")


def read_columns(rows: Sequence[Any], mapping: Mapping) -> Columns:
    """Extract and parse every mapped field of ``rows`` into typed columns."""
    target = table(mapping.table)
    errors: Errors = {i: "not an object" for i, r in enumerate(rows) if type(r) is not dict}
    if errors:
        rows = [r if type(r) is dict else {} for r in rows]
    columns = Columns({}, errors, len(rows))
    cache: dict[str, list[Any]] = {}
    for paths, column in mapping.sources():
        raw = _extract(rows, paths[0], cache, columns)
        for alternative in paths[1:]:
            other = _extract(rows, alternative, cache, columns)
            raw = [a if a is not None else b for a, b in zip(raw, other, strict=True)]
        columns.values[column] = parse_values(raw, target.column(column).type, columns, column)
    return columns


def parse_values(raw: list[Any], kind: str, columns: Columns, column: str) -> Any:
    """Parse one column of raw values to the frame representation of logical type ``kind``."""
    logical = TYPES[kind]
    if logical.parser is None:
        raise KeyError(kind)
    values, errors = logical.parser(raw)
    columns.fail(errors, column)
    return _held(values, logical)


def _held(values: Any, logical: LogicalType) -> Any:
    """``values`` in the frame dtype of their type; object columns stay as they are."""
    if logical.frame_dtype == "object":
        return values
    return pd.array(values, dtype=logical.frame_dtype, copy=False)


def _extract(rows: Sequence[dict], path: str, cache: dict[str, list[Any]], columns: Columns):
    """Values at a dotted path; a non-object where an object is expected is an error."""
    if path in cache:
        return cache[path]
    parent, _, key = path.rpartition(".")
    if not parent:
        values = [r.get(key) for r in rows]
    else:
        objects = _extract(rows, parent, cache, columns)
        try:
            if None in objects:
                values = [o.get(key) if o is not None else None for o in objects]
            else:  # the common case, without a test per value
                values = [o.get(key) for o in objects]
        except AttributeError:
            bad = [i for i, o in enumerate(objects) if o is not None and type(o) is not dict]
            columns.fail(dict.fromkeys(bad, "not an object"), parent)
            values = [o.get(key) if type(o) is dict else None for o in objects]
    cache[path] = values
    return values


def nested(prefix: str, *paths: str) -> tuple[tuple[str, str], ...]:
    """Fields read below ``prefix`` whose columns are named without it."""
    return tuple((f"{prefix}.{p}", column_name(p)) for p in paths)


def apply_mapping(
    rows: Sequence[Any],
    mapping: Mapping,
    constants: dict[str, Any] | None = None,
    origin: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Read, parse and assemble ``rows`` into the mapping's table (see ``build_frame``)."""
    return build_frame(read_columns(rows, mapping), mapping, constants, origin)


def normalise_table(
    rows: Sequence[Any], mapping: Mapping, constants: dict[str, Any] | None = None
) -> Normalised:
    """The whole result for a resource that fills a single table."""
    frame, problems, _ = apply_mapping(rows, mapping, constants)
    return Normalised({mapping.table: frame}, unknown_fields(rows, mapping.known_paths()), problems)


def build_frame(
    columns: Columns,
    mapping: Mapping,
    constants: dict[str, Any] | None = None,
    origin: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Assemble the table's frame, skip records with errors or no key, drop repeated keys.

    Returns the frame, one problem line per skipped record (numbered by ``origin``, the
    index of the source record each row came from, when given), and a boolean mask over
    the rows telling which ones were valid (repeated keys included).
    """
    target = table(mapping.table)
    n = columns.size
    data: dict[str, Any] = {}
    for name in frame_columns(target):
        if name in columns.values:
            data[name] = columns.values[name]
        elif constants and name in constants:
            data[name] = _broadcast(constants[name], n, target.column(name).type)
        else:
            data[name] = np.full(n, None, dtype=object)
    # object arrays are wrapped so pandas keeps them as object (None for null), not str
    data = {k: pd.Series(v, dtype=object) if _is_object(v) else v for k, v in data.items()}
    frame = pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)
    for name in target.key:
        missing = frame[name].isna().to_numpy()
        if missing.any():
            columns.fail({int(i): "missing" for i in missing.nonzero()[0]}, name)
    valid = np.ones(n, dtype=bool)
    if columns.errors:
        valid[list(columns.errors)] = False
    if not valid.all():
        frame = frame[valid].reset_index(drop=True)
    repeated = frame.duplicated(subset=list(target.key), keep="first").to_numpy()
    if repeated.any():
        frame = frame[~repeated].reset_index(drop=True)
    problems = [
        _problem(target, data, i, origin[i] if origin else i, reason)
        for i, reason in sorted(columns.errors.items())
    ]
    return frame, problems, valid


def _is_object(values: Any) -> bool:
    """Whether ``values`` is a list or numpy array of Python objects."""
    return type(values) is list or (isinstance(values, np.ndarray) and values.dtype == object)


def _broadcast(value: Any, n: int, kind: str) -> Any:
    """A constant column of length ``n`` in the frame representation of ``kind``."""
    logical = TYPES[kind]
    if logical.frame_dtype == "object":
        return np.full(n, value, dtype=object)
    return _held([value] * n, logical)


def _problem(target: Table, data: dict[str, Any], i: int, record: int, reason: str) -> str:
    """One short line naming row ``i`` of ``data`` by its record number and readable key."""
    parts = []
    for k in target.key:
        value = data[k][i]
        if k != "account_id" and value is not None and not pd.isna(value):
            parts.append(f"{k}={str(value)[:40]}")
    label = f" ({', '.join(parts)})" if parts else ""
    return f"{target.name}: record {record}{label} skipped: {reason}"


def unknown_fields(rows: Sequence[Any], known: set[str], prefix: str = "") -> set[str]:
    """Dotted paths present in ``rows`` (objects) that no known path accounts for."""
    tree: dict[str, set[str]] = {}
    for path in known:
        head, _, rest = path.partition(".")
        tree.setdefault(head, set())
        if rest:
            tree[head].add(rest)
    objects = [r for r in rows if type(r) is dict]
    found = {f"{prefix}{k}" for k in set().union(*objects) if k not in tree}
    for head, below in tree.items():
        if below:
            found |= unknown_fields([o.get(head) for o in objects], below, f"{prefix}{head}.")
    return found
