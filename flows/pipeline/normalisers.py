"""Each resource's normaliser, found through its declaration: decoded pages to table frames."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import pyarrow as pa

from extractors.resources import Kind, Resource
from transforms.frames import Normalised

# landed page bodies -> (result, items read), raising NotColumnar unless they are clean
ColumnarReader = Callable[..., tuple[Normalised, pa.ChunkedArray]]


@cache
def _rows_module(name: str) -> Any:
    return importlib.import_module(name)


def columnar_reader(resource: Resource) -> ColumnarReader | None:
    """The resource's reader of whole pages a column at a time, when its module has one."""
    return getattr(_rows_module(resource.rows_module), "normalise_pages", None)


def page_records(resource: Resource, datas: list[Any]) -> Any:
    """The records of a resource's decoded pages: items of every page, or the single answer."""
    if resource.kind == Kind.HISTORY:
        return [item for data in datas for item in data["items"]]
    if resource.kind == Kind.REPORTS:
        return datas
    return datas[0]


def normalise_pages(
    resource: Resource, datas: list[Any], account_id: int, at: datetime
) -> Normalised:
    """Normalise the decoded pages of ``resource`` for ``account_id`` as seen at ``at``."""
    normalise = _rows_module(resource.rows_module).normalise
    return normalise(page_records(resource, datas), account_id=account_id, at=at)
