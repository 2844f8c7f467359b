"""The `t212-etl` command line: parsing, dispatch, one-line errors and exit codes."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from pathlib import Path

from extractors.errors import ConfigurationError
from flows.app.output import ShownFormatter, shown
from flows.app.parser import build_parser
from flows.pipeline.settings import SettingsError, load_settings

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def _data_dir(args: argparse.Namespace) -> Path:
    try:
        return load_settings(data_dir=args.data_dir, config=args.config).data_dir
    except SettingsError:
        return Path(args.data_dir or os.environ.get("T212_DATA_DIR") or "data")


def _publisher(args: argparse.Namespace):
    """Where the data directory publishes: local Parquet, or the lake of a storage URL."""
    from flows.pipeline.storage import command_publisher

    return command_publisher(args.data_dir, args.config, args.storage_url)


def _reader(args: argparse.Namespace):
    """Opens a reader of the published database, or of the lake when a storage URL is set."""
    return _publisher(args).connect_reader


def cmd_sql(args: argparse.Namespace) -> int:
    """Run read-only SQL and print the result."""
    from flows.app.output import FORMATS, format_csv
    from warehouse.reader import QueryFailed, read_query

    con = _reader(args)()
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

    text, attention = status_report(_data_dir(args), publisher=_publisher(args))
    print(text)
    return EXIT_FAILED if attention else EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Rebuild from the raw zone."""
    from flows.pipeline.rebuild import RebuildRefused, rebuild

    try:
        replayed = rebuild(_data_dir(args), publisher=_publisher(args))
    except RebuildRefused as exc:
        raise UserError(str(exc)) from None
    runs = ", ".join(f"{name} {n}" for name, n in sorted(replayed.items())) or "nothing"
    print(f"rebuilt from the raw zone: {runs} (landed runs replayed)")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report (no Prefect import: it only reads the published warehouse)."""
    from flows.app.report import UnknownAccount, write_report

    try:
        path = write_report(_data_dir(args), args.output, args.account)
    except UnknownAccount as exc:
        raise UserError(str(exc)) from None
    print(f"report written to {path}")
    return EXIT_OK


def cmd_import_csv(args: argparse.Namespace) -> int:
    """Load CSV reports downloaded by hand (no Prefect import)."""
    from flows.pipeline.imports import ImportRefused, import_reports

    try:
        result = import_reports(
            _data_dir(args),
            [Path(f) for f in args.files],
            account_id=args.account_id,
            publisher=_publisher(args),
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


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve `tables` and `query` to an MCP client on stdin/stdout until it disconnects."""
    from flows.app.mcp_server import build_server

    open_reader = _reader(args)
    open_reader().close()  # a missing warehouse fails here, in one line, not in a tool call
    build_server(open_reader).run()
    return EXIT_OK


def cmd_export_to(args: argparse.Namespace) -> int:
    """Write a tracker's import file(s) from the published warehouse."""
    from flows.app.trackers import UnknownAccount, export_to

    try:
        written, notes = export_to(args.target, _data_dir(args), Path(args.out), args.account)
    except UnknownAccount as exc:
        raise UserError(str(exc)) from None
    for note in notes:
        print(f"t212-etl: {note}", file=sys.stderr)
    print(f"{args.target}: wrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox in the foreground."""
    from sandbox.cli import run_foreground

    run_foreground(args, out=sys.stdout)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """The export: in-process, or a Prefect flow run when a Prefect API is configured."""
    from flows.app.commands import run_command

    return run_command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    """The export of the sandbox account into ./demo-data."""
    from flows.app.commands import demo_command

    return demo_command(args)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the nightly schedule."""
    from flows.app.commands import serve_command

    return serve_command(args)


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
    "sql": cmd_sql,
    "status": cmd_status,
    "rebuild": cmd_rebuild,
    "import-csv": cmd_import_csv,
    "serve": cmd_serve,
    "report": cmd_report,
    "mcp": cmd_mcp,
    "export-to": cmd_export_to,
}


class _OwnRecordsOnly(logging.Filter):
    """Keep Prefect's records off the console: the CLI prints the run's outcome itself,
    and Prefect still ships its records to its API."""

    def __init__(self) -> None:
        super().__init__()
        # some Prefect services log under their class name ("Still processing items" at
        # exit): known by the file they come from; found without importing Prefect
        spec = importlib.util.find_spec("prefect")
        places = spec.submodule_search_locations if spec else None
        self._prefect_dir = str(Path(places[0])) + os.sep if places else None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("prefect"):
            return False
        return not (self._prefect_dir and record.pathname.startswith(self._prefect_dir))


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # the console's, not a capturing one
            handler.setFormatter(ShownFormatter("%(asctime)s %(levelname)s %(message)s"))
        if not debug:
            handler.addFilter(_OwnRecordsOnly())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `t212-etl`; returns the exit code."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _configure_logging(debug)
    import duckdb

    from warehouse import MemoryLimitInvalid, WarehouseLocked, WarehouseMissing
    from warehouse.leases import AccountBusy
    from warehouse.objectstore import ObjectStoreError

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(
            "t212-etl: interrupted; committed resources stay, the next run resumes", file=sys.stderr
        )
        return EXIT_FAILED
    except (
        UserError,
        SettingsError,
        ConfigurationError,
        WarehouseLocked,
        WarehouseMissing,
        MemoryLimitInvalid,
        AccountBusy,
    ) as exc:
        if debug:
            raise
        print(f"t212-etl: {shown(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except ObjectStoreError as exc:  # worded for the store already, with what to check
        if debug:
            raise
        print(f"t212-etl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        if debug:
            raise
        print(
            f"t212-etl: {exc.strerror or exc} ({exc.filename or 'data directory'}): check "
            "that the data directory is writable and the disk has room",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except duckdb.Error as exc:
        if debug:
            raise
        print(
            f"t212-etl: the warehouse could not be read or written ({str(exc).splitlines()[0]}): "
            "check the disk and the data directory; committed data is safe",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
