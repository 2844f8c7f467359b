"""Clean history pages normalised a column at a time with Arrow, from the same mappings.

The record-by-record normaliser (``transforms.mapping``) decides what every odd value
means and reports every problem. This path reads whole pages with Arrow's JSON reader,
typed exactly as the catalogue declares (decimals straight from the JSON text), and
gives the same rows. It refuses (raises :class:`NotColumnar`) any batch holding
something it cannot prove it reads the same way: a value of another JSON type, more
than ten decimal places, a missing key, an unreadable time, a repeated key. The caller
then runs the record-by-record normaliser on those pages, which reports them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from transforms.catalogue import table
from transforms.frames import Normalised, frame_columns
from transforms.mapping import Mapping
from transforms.types import TYPES
from transforms.values import MAX_INTEGER_DIGITS, parse_timestamps

_BLOCK = 1 << 24  # bytes Arrow parses per block; larger than any page


class NotColumnar(Exception):
    """The pages hold something only the record-by-record normaliser handles exactly."""


@dataclass(frozen=True)
class ColumnarSpec:
    """How items are read: the item mappings, and list fields read as rows of their own.

    ``lists`` maps a dotted path of a list inside the item to ``(mapping, alias)``: each
    list element is one record of ``mapping`` under the name ``alias``.
    """

    mappings: tuple[Mapping, ...]
    lists: dict[str, tuple[Mapping, str]] = field(default_factory=dict)

    def item_type(self) -> pa.StructType:
        """The Arrow type of one item, as the mappings read it."""
        tree: dict = {}
        for mapping in self.mappings:
            _grow(tree, mapping, "")
        for path, (mapping, alias) in self.lists.items():
            element: dict = {}
            _grow(element, mapping, f"{alias}.")
            *parents, leaf = path.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = [element.get(alias, {})]
        return _arrow_type(tree)

    def known(self) -> dict:
        """The tree of known paths (``{}`` marks a leaf), lists read as leaves of the item."""
        tree: dict = {}
        for mapping in self.mappings:
            for path in mapping.known_paths():
                _insert(tree, path.split("."))
        for path in self.lists:
            _insert(tree, path.split("."))
        return tree


def _grow(tree: dict, mapping: Mapping, prefix: str) -> None:
    """Add the leaves ``mapping`` reads below ``prefix`` to ``tree`` with their read types."""
    target = table(mapping.table)
    for paths, column in mapping.sources():
        kind = target.column(column).logical.json_read
        if kind is None:
            raise ValueError(f"{mapping.table}.{column}: no columnar reading")
        for path in paths:
            if not path.startswith(prefix) and prefix:
                continue
            *parents, leaf = path.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = kind


def _insert(tree: dict, parts: list[str]) -> None:
    node = tree
    for part in parts:
        node = node.setdefault(part, {})


def _arrow_type(node: Any) -> pa.DataType:
    if isinstance(node, pa.DataType):
        return node
    if isinstance(node, list):
        return pa.list_(_arrow_type(node[0]))
    return pa.struct([pa.field(k, _arrow_type(v)) for k, v in node.items()])


# Arrow's JSON reader wraps a decimal past 128 bits silently (3.4e28 read as 3.4e18) and
# reads one of 49 or more decimal places as 0 (2.9E-226, or 2.91...E-33 with 16 digits
# after the point): a number with a positive exponent, one not zero with an exponent of
# -10 or below (past the ten decimal places kept: the record path reports it), or with 29
# digits in a row is left to the exact record path.
_HUGE_NUMBER = re.compile(
    rb"[:,\[]\s*-?(?:[0-9.]+[eE]\+?[0-9]|[0-9.]*[1-9][0-9.]*[eE]-0*[1-9][0-9]|[0-9]{29})"
)


def read_items(bodies: Sequence[bytes], spec: ColumnarSpec) -> pa.ChunkedArray:
    """The items of every page (``{"items": [...]}`` bodies), one struct per item."""
    if any(b"\n" in body or b"\r" in body for body in bodies):
        raise NotColumnar("a page spans lines")
    if any(_HUGE_NUMBER.search(body) for body in bodies):
        raise NotColumnar("a number Arrow would not read exactly")
    schema = pa.schema([pa.field("items", pa.list_(spec.item_type()))])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        pages = pj.read_json(
            io.BytesIO(b"\n".join(bodies)),
            read_options=pj.ReadOptions(block_size=_BLOCK),
            parse_options=options,
        )
    except (pa.ArrowException, ValueError) as exc:
        raise NotColumnar(str(exc)) from None
    lists = pages.column("items")
    if pages.num_rows != len(bodies) or lists.null_count:
        raise NotColumnar("a page without items")
    return pa.chunked_array([c.flatten() for c in lists.chunks], lists.type.value_type)


def column_at(items: pa.ChunkedArray | pa.Array, path: str) -> pa.ChunkedArray:
    """The values at a dotted path (null where any parent is null)."""
    return pc.struct_field(items, path.split("."))


def unknown_paths(found: pa.DataType, known: dict, prefix: str = "") -> set[str]:
    """Dotted paths in the read type that no known path accounts for."""
    out = set()
    for child in found:
        if child.name not in known:
            out.add(f"{prefix}{child.name}")
        elif known[child.name] and pa.types.is_struct(child.type):
            out |= unknown_paths(child.type, known[child.name], f"{prefix}{child.name}.")
    return out


def build_table(
    items: pa.ChunkedArray | pa.Array, mapping: Mapping, constants: dict[str, Any]
) -> pd.DataFrame:
    """The mapping's rows from ``items``, as a frame of Arrow-backed columns.

    Raises NotColumnar where the record-by-record normaliser would report a problem
    or drop a repeated key.
    """
    target = table(mapping.table)
    n = len(items)
    arrays: dict[str, Any] = {}
    for paths, column in mapping.sources():
        values = column_at(items, paths[0])
        if len(paths) > 1:
            values = pc.coalesce(*(column_at(items, p) for p in paths))
        arrays[column] = _finish(values, target.column(column).type, f"{mapping.table}.{column}")
    for name, value in constants.items():
        arrays[name] = pa.array(np.full(n, value), target.column(name).arrow_type)
    data = {c.name: arrays.get(c.name, pa.nulls(n, c.arrow_type)) for c in target.columns}
    result = pa.table(data, schema=target.arrow_schema())
    _check_keys(result, target.key, mapping.table)
    return result.select(frame_columns(target)).to_pandas(types_mapper=pd.ArrowDtype)


def _finish(values: pa.ChunkedArray, kind: str, where: str) -> pa.ChunkedArray:
    """Typed as the catalogue declares; times parsed as the record path parses them."""
    if kind == "decimal":
        try:
            values.validate(full=True)
        except pa.ArrowInvalid:
            raise NotColumnar(f"{where}: more than {MAX_INTEGER_DIGITS} integer digits") from None
        return values
    if kind != "timestamp":
        return values
    texts = values.to_numpy(zero_copy_only=False)
    parsed, errors = parse_timestamps(texts)
    if errors:
        raise NotColumnar(f"{where}: unreadable time")
    return pa.chunked_array([pa.array(parsed, TYPES["timestamp"].arrow)])


def _check_keys(rows: pa.Table, key: Sequence[str], name: str) -> None:
    """Every key present and none repeated, else the record path decides."""
    if any(rows.column(k).null_count for k in key):
        raise NotColumnar(f"{name}: a key is missing")
    if rows.num_rows and rows.group_by(list(key)).aggregate([]).num_rows != rows.num_rows:
        raise NotColumnar(f"{name}: a key repeats")


def normalise_table_pages(
    bodies: Sequence[bytes], mapping: Mapping, constants: dict[str, Any]
) -> tuple[Normalised, pa.ChunkedArray]:
    """Pages of a resource that fills one table; returns the result and the items read."""
    spec = ColumnarSpec((mapping,))
    items = read_items(bodies, spec)
    frame = build_table(items, mapping, constants)
    unknown = unknown_paths(items.type, spec.known())
    return Normalised({mapping.table: frame}, unknown), items
