"""Helpers of the report tests: rows written straight into a warehouse, a page read back."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any


def insert(con, table: str, **row) -> None:
    """One row into ``table``, past the checks the transforms make."""
    columns = ", ".join(f'"{c}"' for c in row)
    con.execute(
        f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(row))})',
        list(row.values()),
    )


@dataclass
class Element:
    """An element with a ``data-testid``: its attributes and its whole text."""

    attrs: dict[str, str | None]
    text: str = ""

    @property
    def value(self) -> str | None:
        return self.attrs.get("data-value")


class Page(HTMLParser):
    """A report page read back: elements by ``data-testid`` (the first of each), and the
    rows of every table with a ``data-testid`` that carry a ``data-year``, each row a dict
    of ``year`` and its cells by their ``data-testid``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, Element] = {}
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self._open: list[tuple[str, Element | None]] = []
        self._table: list | None = None
        self._row: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        testid = found.get("data-testid")
        element = Element(found) if testid else None
        if testid and testid not in self.ids:
            self.ids[testid] = element
        if tag in ("meta", "br", "img", "input", "link"):
            return
        self._open.append((tag, element))
        if tag == "table" and testid:
            self._table = self.tables.setdefault(testid, [])
        elif tag == "tr" and self._table is not None and "data-year" in found:
            self._row = {"year": found["data-year"]}
            self._table.append(self._row)
        elif tag == "td" and self._row is not None and testid:
            self._row[testid] = element

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, _ = self._open.pop()
            if name == tag:
                break
        if tag == "table":
            self._table = self._row = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        for _, element in self._open:
            if element is not None:
                element.text += data


def read_page(html: str) -> Page:
    """The report page ``html`` parsed."""
    page = Page()
    page.feed(html)
    page.close()
    return page
