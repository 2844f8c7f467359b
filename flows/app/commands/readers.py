"""The commands that read the published warehouse: `sql`, `status`, `dashboard`, `mcp` and
`export-to` (none imports Prefect)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.app.commands import EXIT_FAILED, EXIT_OK, UserError
from flows.app.commands.location import data_dir_of, publisher_of, reader_of


def cmd_sql(args: argparse.Namespace) -> int:
    """Run read-only SQL and print the result."""
    from flows.app.output import FORMATS, format_csv
    from warehouse.reader import QueryFailed, read_query

    con = reader_of(args)()
    try:
        columns, rows, _ = read_query(con, args.query)
    except QueryFailed as exc:
        raise UserError(str(exc)) from None
    finally:
        con.close()
    if args.format == "csv":
        output = format_csv(columns, rows, safe=not args.raw_csv)
    else:
        output = FORMATS[args.format](columns, rows)
    print(output.rstrip("\n"))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the status report; exit 1 when something needs attention."""
    from flows.app.status import status_report

    text, attention = status_report(data_dir_of(args), publisher=publisher_of(args))
    print(text)
    return EXIT_FAILED if attention else EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Write the HTML dashboard (no Prefect import: it only reads the published warehouse)."""
    from flows.app.dashboard import UnknownAccount, write_dashboard

    try:
        path = write_dashboard(data_dir_of(args), args.output, args.account)
    except UnknownAccount as exc:
        raise UserError(str(exc)) from None
    print(f"dashboard written to {path}")
    return EXIT_OK


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve `tables` and `query` to an MCP client on stdin/stdout until it disconnects."""
    from flows.app.mcp_server import build_server

    open_reader = reader_of(args)
    open_reader().close()  # a missing warehouse fails here, in one line, not in a tool call
    build_server(open_reader).run()
    return EXIT_OK


def cmd_export_to(args: argparse.Namespace) -> int:
    """Write a tracker's import file(s) from the published warehouse."""
    from flows.app.trackers import UnknownAccount, export_to

    try:
        written, notes = export_to(args.target, data_dir_of(args), Path(args.out), args.account)
    except UnknownAccount as exc:
        raise UserError(str(exc)) from None
    for note in notes:
        print(f"t212-etl: {note}", file=sys.stderr)
    print(f"{args.target}: wrote {', '.join(str(p) for p in written)}")
    return EXIT_OK
