"""The `t212-etl` command line's arguments: every command and its options."""

from __future__ import annotations

import argparse


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", help="warehouse directory (default ./data, env T212_DATA_DIR)"
    )
    parser.add_argument("--config", help="config file (default ./t212-etl.toml when present)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-url",
        help="the lake on object storage, e.g. s3://bucket/prefix (default: storage_url in "
        "t212-etl.toml, env T212_STORAGE_URL; none keeps everything local)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    parser = argparse.ArgumentParser(
        prog="t212-etl", description="Export Trading 212 accounts into Parquet and DuckDB."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="the nightly export for every configured account")
    _common(run)
    run.add_argument("--full-refresh", action="store_true", help="re-read all history")
    run.add_argument("--only", help="comma-separated resources, e.g. dividends,positions")
    run.add_argument("--account", action="append", help="only this account (repeatable)")
    _storage(run)
    run.add_argument(
        "--with-reports",
        action="store_true",
        help="also request a CSV report per missing year (taxes, interest, fees)",
    )
    run.add_argument(
        "--backfill-reports",
        action="store_true",
        help="request the yearly CSV reports that reach back past the API's history",
    )
    run.add_argument(
        "--prefect",
        action="store_true",
        help="run as a Prefect flow run even without a Prefect API configured (a temporary "
        "local server then starts for the run)",
    )
    run.add_argument(
        "--lock-timeout", type=float, default=0.0, help="seconds to wait for another run's lock"
    )
    run.add_argument(
        "--time-limit",
        type=float,
        metavar="HOURS",
        help="stop cleanly after this many hours, 0 for none (default: run_time_limit_hours "
        "under [export], else 23)",
    )
    demo = sub.add_parser("demo", help="export the built-in sandbox account into ./demo-data")
    demo.add_argument(
        "--data-dir", default="demo-data", help="where to write (default ./demo-data)"
    )
    demo.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sandbox = sub.add_parser("sandbox", help="serve the local Trading 212 sandbox")
    from sandbox.cli import add_arguments

    add_arguments(sandbox)
    sql = sub.add_parser("sql", help="run read-only SQL on the warehouse")
    _common(sql)
    sql.add_argument("query", help="the SQL to run")
    _storage(sql)
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument(
        "--raw-csv",
        action="store_true",
        help="write CSV text cells as they are (by default a cell starting with = + - @ gets "
        "a leading ' so spreadsheets do not run it as a formula)",
    )
    status = sub.add_parser("status", help="last runs, rows, cursors and freshness")
    _common(status)
    _storage(status)
    rebuild = sub.add_parser("rebuild", help="rebuild DuckDB and Parquet from the raw zone")
    _common(rebuild)
    _storage(rebuild)
    imports = sub.add_parser("import-csv", help="load CSV reports downloaded from Trading 212")
    _common(imports)
    _storage(imports)
    imports.add_argument("files", nargs="+", metavar="FILE", help="report files (.csv)")
    imports.add_argument(
        "--account-id", type=int, help="the account the files belong to (default: the only one)"
    )
    serve = sub.add_parser("serve", help="serve the nightly schedule with Prefect")
    _common(serve)
    serve.add_argument("--cron", default="30 2 * * *", help="schedule (default 02:30 daily)")
    serve.add_argument("--timezone", help="IANA zone of the schedule (default: local zone)")
    serve.add_argument("--pool", help="register on this Prefect work pool instead of serving here")
    serve.add_argument(
        "--account",
        action="append",
        help="a deployment of these accounts only (repeatable): one per group of accounts",
    )
    _storage(serve)
    serve.add_argument(
        "--source", help="with --pool: where workers find the code (path or git URL; default .)"
    )
    # `report` was its name before `report` came to mean only the CSV reports
    dashboard = sub.add_parser(
        "dashboard", aliases=["report"], help="write a self-contained HTML dashboard with charts"
    )
    _common(dashboard)
    dashboard.set_defaults(command="dashboard")
    dashboard.add_argument(
        "--account", action="append", type=int, help="only this account id (repeatable)"
    )
    dashboard.add_argument("--output", help="the HTML file (default <data-dir>/dashboard.html)")
    trackers = sub.add_parser(
        "export-to", help="import files for Ghostfolio or Portfolio Performance"
    )
    _common(trackers)
    trackers.add_argument("target", choices=("ghostfolio", "portfolio-performance"))
    trackers.add_argument(
        "--out", required=True, help="the file (ghostfolio) or directory (portfolio-performance)"
    )
    trackers.add_argument(
        "--account", action="append", help="only this account id (repeatable; default all)"
    )
    mcp = sub.add_parser("mcp", help="serve the warehouse to AI assistants (MCP on stdio)")
    _common(mcp)
    _storage(mcp)
    return parser
