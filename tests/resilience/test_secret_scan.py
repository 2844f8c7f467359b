"""The suite-wide secret scan finds a credential, plain or gzipped, wherever it is written."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

from sandbox import DEMO_SECRET
from tests.conftest import known_credentials, leaks


def test_the_scan_finds_plain_and_gzipped_credentials():
    # outside the suite's temporary tree, so the session guard itself stays green
    root = Path(tempfile.mkdtemp(prefix="scan-check-"))
    try:
        (root / "clean.txt").write_text("nothing to see")
        (root / "a").mkdir()
        (root / "a" / "plain.json").write_text(f'{{"secret": "{DEMO_SECRET}"}}')
        (root / "a" / "page.json.gz").write_bytes(gzip.compress(DEMO_SECRET.encode()))
        found = sorted(Path(p).name for p in leaks(root, known_credentials()))
        assert found == ["page.json.gz", "plain.json"]
    finally:
        shutil.rmtree(root)
    assert len(known_credentials()) >= 9
