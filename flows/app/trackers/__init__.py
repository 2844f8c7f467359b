"""Import files for the trackers users already keep: Ghostfolio and Portfolio Performance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flows.app.trackers import ghostfolio, portfolio_performance
from flows.app.trackers.ledger import UnknownAccount, read_ledger
from warehouse.files import ensure_dir, write_atomic

TARGETS = ("ghostfolio", "portfolio-performance")

__all__ = ["TARGETS", "UnknownAccount", "export_to"]


def export_to(
    target: str, data_dir: Path, out: Path, accounts: Sequence[str] | None = None
) -> tuple[list[Path], list[str]]:
    """Write ``target``'s import file(s) at ``out``; the paths written and the notes."""
    ledger = read_ledger(data_dir, accounts)
    if target == "ghostfolio":
        data, notes = ghostfolio.render(ledger)
        write_atomic(out, data)
        return [out], notes
    files, notes = portfolio_performance.render(ledger)
    ensure_dir(out)
    written = []
    for name, data in files.items():
        write_atomic(out / name, data)
        written.append(out / name)
    return written, notes
