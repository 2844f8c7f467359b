"""The commands that load the warehouse from local files, with no API call: `rebuild` (from
the raw zone) and `import-csv` (CSV reports downloaded by hand); neither imports Prefect."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.app.commands import EXIT_OK, UserError
from flows.app.commands.location import data_dir_of, publisher_of
from flows.app.output import shown


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Rebuild from the raw zone."""
    from flows.pipeline.rebuild import RebuildRefused, rebuild

    try:
        replayed = rebuild(data_dir_of(args), publisher=publisher_of(args))
    except RebuildRefused as exc:
        raise UserError(str(exc)) from None
    runs = ", ".join(f"{name} {n}" for name, n in sorted(replayed.items())) or "nothing"
    print(f"rebuilt from the raw zone: {runs} (landed runs replayed)")
    return EXIT_OK


def cmd_import_csv(args: argparse.Namespace) -> int:
    """Load CSV reports downloaded by hand."""
    from flows.pipeline.imports import ImportRefused, import_reports

    try:
        result = import_reports(
            data_dir_of(args),
            [Path(f) for f in args.files],
            account_id=args.account_id,
            publisher=publisher_of(args),
        )
    except ImportRefused as exc:
        raise UserError(str(exc)) from None
    for notice in result.notices:
        print(f"t212-etl: {shown(notice)}", file=sys.stderr)
    for column in sorted(result.unknown_columns):
        print(f"t212-etl: column {column!r} is not in the catalogue, not loaded", file=sys.stderr)
    counts = result.counts["activity"]
    print(
        f"imported {result.files} file(s) into account {result.account_id}: {counts.read} rows "
        f"read, {counts.inserted} new, {counts.updated} updated (run {result.run_id})"
    )
    return EXIT_OK
