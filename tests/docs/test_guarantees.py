"""Every test the guarantees page ("What happens when...") names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)")


def _table() -> str:
    return (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")


def test_every_test_named_in_the_guarantees_table_exists():
    references = REFERENCE.findall(_table())
    assert len(references) > 30
    sources: dict[str, str] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):  # one name may be in several folders
        sources[path.name] = sources.get(path.name, "") + path.read_text(encoding="utf-8")
    missing = [
        f"{file}::{name}"
        for file, name in references
        if file not in sources or not re.search(rf"^def {name}\(", sources[file], re.MULTILINE)
    ]
    assert missing == []
