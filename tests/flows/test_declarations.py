"""What a resource's declaration binds: its row mapping, its exporter and the sandbox's route."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest

from extractors.resources import RESOURCES, Kind
from flows.pipeline.normalisers import columnar_reader, normalise_pages
from flows.pipeline.resource import CURSORS, EXPORTERS
from sandbox.resources import ROUTES
from transforms.catalogue import LOAD_METADATA, TABLES

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize("name", list(RESOURCES))
def test_every_resource_has_a_row_mapping_named_after_it(name):
    resource = RESOURCES[name]
    module = importlib.import_module(resource.rows_module)
    assert callable(module.normalise)
    # history streams in chunks: it needs the column-at-a-time reader too
    assert (columnar_reader(resource) is not None) == (resource.kind == Kind.HISTORY)


def test_every_kind_has_an_exporter_and_a_cursor():
    assert set(EXPORTERS) == set(Kind) == set(CURSORS)


@pytest.mark.parametrize("name", [n for n, r in RESOURCES.items() if r.kind == Kind.HISTORY])
def test_an_empty_history_page_normalises_to_the_declared_tables(name):
    resource = RESOURCES[name]
    normalised = normalise_pages(resource, [{"items": []}], 7, AT)
    assert set(normalised.frames) == set(resource.tables)
    assert all(len(frame) == 0 for frame in normalised.frames.values())
    for name in resource.tables:  # every declared column but the load's own metadata
        assert set(TABLES[name].column_names) - set(normalised.frames[name]) == set(LOAD_METADATA)


@pytest.mark.parametrize("name", [n for n, r in RESOURCES.items() if r.kind != Kind.REPORTS])
def test_the_sandbox_serves_every_declared_endpoint_under_its_scope(name):
    resource = RESOURCES[name]
    route = ROUTES[("GET", resource.path)]
    assert resource.scope in route.scopes
