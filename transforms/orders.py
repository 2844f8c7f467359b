"""Historical orders: orders, their fills and the taxes charged on each fill."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from transforms.columnar import ColumnarSpec, build_table, column_at, read_items, unknown_paths
from transforms.frames import Normalised
from transforms.mapping import Mapping, apply_mapping, nested, unknown_fields
from transforms.values import parse_int

_TICKER = (("order.ticker", "order.instrument.ticker"), "ticker")

# the fields of the specification's Order, as history items nest it and pending orders send it
ORDER_FIELDS = (
    "type",
    "side",
    "status",
    "strategy",
    "initiatedFrom",
    "timeInForce",
    "extendedHours",
    "createdAt",
    "currency",
    "quantity",
    "filledQuantity",
    "value",
    "filledValue",
    "limitPrice",
    "stopPrice",
    "instrument.name",
    "instrument.isin",
    "instrument.currency",
)

ORDERS = Mapping(
    "orders",
    (("order.id", "order_id"), _TICKER, *nested("order", *ORDER_FIELDS)),
)

FILLS = Mapping(
    "fills",
    (
        ("fill.id", "fill_id"),
        ("order.id", "order_id"),
        _TICKER,
        *nested(
            "fill",
            "filledAt",
            "price",
            "quantity",
            "tradingMethod",
            "type",
            "walletImpact.currency",
            "walletImpact.fxRate",
            "walletImpact.netValue",
            "walletImpact.realisedProfitLoss",
        ),
    ),
    known=("fill.walletImpact.taxes",),
)

# rows built per tax as {"fill": {"id": ...}, "tax": ...}
FILL_TAXES = Mapping(
    "fill_taxes",
    (("fill.id", "fill_id"), *nested("tax", "name", "chargedAt", "currency", "quantity")),
)
TAX_FIELDS = {"name", "chargedAt", "currency", "quantity"}
_TAXES = "fill.walletImpact.taxes"
ORDER_PAGES = ColumnarSpec((ORDERS, FILLS), {_TAXES: (FILL_TAXES, "tax")})


def normalise_orders(records: Sequence[Any], *, account_id: int) -> Normalised:
    """Historical order items ``{order, fill}`` -> ``orders``, ``fills`` and ``fill_taxes``.

    An item whose order is unusable is skipped whole; an unusable fill drops its taxes.
    """
    constants = {"account_id": parse_int(account_id)}
    orders, problems, valid_orders = apply_mapping(records, ORDERS, constants)
    with_fill = [
        i for i, ok in enumerate(valid_orders) if ok and records[i].get("fill") is not None
    ]
    items = [records[i] for i in with_fill]
    fills, fill_problems, valid_fills = apply_mapping(items, FILLS, constants, origin=with_fill)
    rows, origin = _tax_rows(items, valid_fills, with_fill, fill_problems)
    taxes_frame, tax_problems, _ = apply_mapping(rows, FILL_TAXES, constants, origin=origin)
    unknown = unknown_fields(records, ORDERS.known_paths() | FILLS.known_paths())
    unknown |= unknown_fields([r["tax"] for r in rows], TAX_FIELDS, "fill.walletImpact.taxes.")
    frames = {"orders": orders, "fills": fills, "fill_taxes": taxes_frame}
    return Normalised(frames, unknown, problems + fill_problems + tax_problems)


def _tax_rows(
    items: list[dict[str, Any]], valid: Sequence[bool], origin: list[int], problems: list[str]
) -> tuple[list[dict[str, Any]], list[int]]:
    """One row per tax of each kept fill; a fill repeated later brings no taxes of its own."""
    rows, rows_origin, seen = [], [], set()
    for item, ok, i in zip(items, valid, origin, strict=True):
        fill_id = parse_int(item["fill"]["id"]) if ok else None
        if fill_id is None or fill_id in seen:
            continue
        seen.add(fill_id)
        taxes = (item["fill"].get("walletImpact") or {}).get("taxes")
        if taxes is None:
            continue
        if type(taxes) is not list:
            problems.append(f"fill_taxes: record {i} skipped: taxes is not a list")
            continue
        fill = {"id": fill_id}
        rows += [{"fill": fill, "tax": tax} for tax in taxes]
        rows_origin += [i] * len(taxes)
    return rows, rows_origin


def normalise_pages(
    bodies: Sequence[bytes], *, account_id: int
) -> tuple[Normalised, pa.ChunkedArray]:
    """Clean order pages, a column at a time: the result of ``normalise_orders`` and the items.

    Raises ``NotColumnar`` where ``normalise_orders`` would report or drop something.
    """
    items = read_items(bodies, ORDER_PAGES)
    constants = {"account_id": parse_int(account_id)}
    orders = build_table(items, ORDERS, constants)
    filled = items.filter(pc.is_valid(column_at(items, "fill"))).combine_chunks()
    fills = build_table(filled, FILLS, constants)
    taxes = column_at(filled, _TAXES)
    fill_ids = pc.take(column_at(filled, "fill.id"), pc.list_parent_indices(taxes))
    elements = pc.list_flatten(taxes)
    rows = pa.StructArray.from_arrays(
        [pa.StructArray.from_arrays([fill_ids], ["id"]), elements], ["fill", "tax"]
    )
    taxes_frame = build_table(rows, FILL_TAXES, constants)
    unknown = unknown_paths(items.type, ORDER_PAGES.known())
    unknown |= unknown_paths(elements.type, {key: {} for key in TAX_FIELDS}, f"{_TAXES}.")
    frames = {"orders": orders, "fills": fills, "fill_taxes": taxes_frame}
    return Normalised(frames, unknown), items


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the items of every page read."""
    return normalise_orders(records, account_id=account_id)
