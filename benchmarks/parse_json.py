"""How much exact Decimal parsing of history pages costs against binary floats."""

from __future__ import annotations

import json
import time
from decimal import Decimal

ITEM = (
    '{"ticker":"AAPL_US_EQ","reference":"R%d","quantity":17.0000000000,"amount":1.2345000000,'
    '"amountInEuro":1.1300000000,"grossAmountPerShare":0.2400000000,"paidOn":"2024-01-02T03:04:05Z",'
    '"currency":"EUR","tickerCurrency":"USD","type":"ORDINARY",'
    '"instrument":{"ticker":"AAPL_US_EQ","name":"Apple","isin":"US0378331005","currency":"USD"}}'
)


def pages(n_items: int, per_page: int = 50) -> list[bytes]:
    """Synthetic dividend pages of ``per_page`` items."""
    out = []
    for start in range(0, n_items, per_page):
        items = ",".join(ITEM % i for i in range(start, start + per_page))
        out.append(f'{{"items":[{items}],"nextPagePath":null}}'.encode())
    return out


def measure(n_items: int = 200_000) -> dict[str, float]:
    """Items per second for float and for Decimal parsing."""
    data = pages(n_items)
    result = {}
    for name, kwargs in (("float", {}), ("decimal", {"parse_float": Decimal})):
        t = time.perf_counter()
        for body in data:
            json.loads(body, **kwargs)
        result[name] = n_items / (time.perf_counter() - t)
    return result


if __name__ == "__main__":
    r = measure()
    print(
        f"float: {r['float']:,.0f} items/s; decimal: {r['decimal']:,.0f} items/s; "
        f"ratio {r['float'] / r['decimal']:.2f}"
    )
