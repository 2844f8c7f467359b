"""The resources page says what the declarations say, row for row, in run order."""

from __future__ import annotations

import re
from pathlib import Path

from extractors.resources import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGE = ROOT / "docs" / "reference" / "resources.md"


def _documented() -> list[list[str]]:
    rows = [line for line in PAGE.read_text().splitlines() if line.startswith("| `")]
    return [[cell.strip().replace("`", "") for cell in row.strip("|").split("|")] for row in rows]


def test_the_resources_page_lists_every_resource_as_declared():
    declared = [
        [
            r.name,
            r.path,
            r.kind.value,
            r.scope,
            f"{r.limit[0]} per {r.limit[1]:g} s",
            ", ".join(r.tables),
        ]
        for r in RESOURCES.values()
    ]
    assert _documented() == declared


def test_the_only_option_lists_every_resource():
    line = next(x for x in README.read_text().splitlines() if "t212-etl run --only" in x)
    quoted = re.findall(r"`([^`]+)`", line.split("a subset of", 1)[1])
    listed = [name for text in quoted for name in text.split(", ")]
    assert sorted(listed) == sorted(RESOURCES)
