"""The official OpenAPI spec's static examples load through every list endpoint's normaliser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.resources import RESOURCES, Kind
from flows.pipeline.normalisers import normalise_pages
from transforms.frames import odd_currencies, to_arrow
from transforms.values import is_currency_code

SPEC = Path("/work/shared/reference/trading212-openapi.yaml")
AT = datetime(2024, 3, 1, tzinfo=UTC)
# what a mock server answers for a value the spec gives no example of
FORMATS = {"date-time": "2019-08-24T14:15:22Z", "date": "2019-08-24"}
PLAIN = {"string": "string", "integer": 0, "number": 0, "boolean": True}


def _example(schema: dict, spec: dict, depth: int = 0) -> Any:
    """The static example of ``schema``: its own, else one built from its parts."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(spec["components"]["schemas"][name], spec, depth)
    if "example" in schema:
        return schema["example"]
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            return _example(schema[combined][0], spec, depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "array":
        return [_example(schema.get("items", {}), spec, depth + 1)] if depth < 6 else []
    if kind == "object":
        properties = schema.get("properties", {}) if depth < 6 else {}
        return {k: _example(v, spec, depth + 1) for k, v in properties.items()}
    return FORMATS.get(schema.get("format"), PLAIN.get(kind))


def _answer(spec: dict, path: str) -> Any:
    operation = spec["paths"][path]["get"]
    content = operation["responses"]["200"]["content"]["application/json"]
    return _example(content["schema"], spec)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC.read_text())


@pytest.mark.parametrize(
    "name", [n for n, r in RESOURCES.items() if r.kind != Kind.REPORTS and r.path]
)
def test_every_endpoint_loads_the_spec_example(spec, name):
    resource = RESOURCES[name]
    normalised = normalise_pages(resource, [_answer(spec, resource.path)], 1, AT)
    rows = {table: len(frame) for table, frame in normalised.frames.items()}
    assert rows[resource.tables[0]] > 0, (rows, normalised.problems)


@pytest.mark.slow  # Hypothesis through the warehouse
@settings(max_examples=60, deadline=None)
@given(currency=st.text(max_size=300), ticker=st.text(min_size=1, max_size=300))
def test_odd_text_is_stored_exactly_and_reported(currency, ticker):
    record = {
        "reference": "r-1",
        "ticker": ticker,
        "paidOn": "2024-01-02T03:04:05Z",
        "amount": 1.5,
        "currency": currency,
    }
    normalised = normalise_pages(RESOURCES["dividends"], [{"items": [record]}], 1, AT)
    arrow = to_arrow(normalised.frames["dividends"], "dividends")
    con = duckdb.connect()
    con.register("stored", arrow)
    assert con.execute("SELECT ticker, currency FROM stored").fetchall() == [(ticker, currency)]
    con.close()
    odd = odd_currencies(normalised.frames)
    assert len(odd) == (0 if is_currency_code(currency) else 1)
    assert all(c.isprintable() for line in odd for c in line)
