"""`t212-etl mcp`: a Model Context Protocol server on stdio over the published warehouse."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import duckdb

from flows.app.output import text
from warehouse.bookkeeping import LOAD_STATE, PENDING_PUBLISH
from warehouse.reader import QueryFailed, read_query

MAX_ROWS = 1_000
# an assistant's query may be unbounded (a cross join); it is stopped, not left to hang
QUERY_SECONDS = 60.0
INSTRUCTIONS = (
    "Read-only SQL over a Trading 212 warehouse (DuckDB dialect). Call `tables` first to "
    "see every table and view with its columns; then `query` with one SELECT. Amounts are "
    "exact decimals given as strings, times are UTC. Views answer the usual questions: "
    "positions_latest, dividends_monthly, realised_gains_by_year, holdings_daily."
)
PROMPTS = {
    "gains_this_tax_year": (
        "Realised gains in the current UK tax year",
        "Using the t212-etl tools, show my realised gains for the current UK tax year "
        "(6 April to 5 April) per account and instrument from `realised_gains_by_year` "
        "(method 'uk'), and the totals.",
    ),
    "dividends_by_month": (
        "Dividend income by month",
        "Using the t212-etl tools, show my dividend income per month for the last 12 months "
        "from `dividends_monthly`: gross, withholding tax and net, per currency.",
    ),
    "holdings_now": (
        "What I hold now",
        "Using the t212-etl tools, list what I hold now from `positions_latest`: ticker, "
        "quantity, average price, current value and unrealised result, largest first.",
    ),
}

Reader = Callable[[], duckdb.DuckDBPyConnection]
# the pipeline's own state: not for readers
INTERNAL_TABLES = frozenset({LOAD_STATE.name, PENDING_PUBLISH.name})


def jsonable(value: Any) -> Any:
    """A value as JSON: decimals, times and other exact types as text, lists kept."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return text(value)


def answer_query(
    open_reader: Reader, sql: str, limit: int = MAX_ROWS, seconds: float = QUERY_SECONDS
) -> dict[str, Any]:
    """One read-only statement's columns, at most ``limit`` rows, and whether it was cut.

    A statement still running after ``seconds`` is interrupted; every refusal or failure
    is a one-line :class:`QueryFailed`.
    """
    con = open_reader()
    try:
        columns, rows, cut = read_query(con, sql, limit, seconds)
    finally:
        con.close()
    return {"columns": columns, "rows": [jsonable(list(r)) for r in rows], "truncated": cut}


def describe_tables(open_reader: Reader) -> list[dict[str, Any]]:
    """Every table and view of the warehouse: name, kind, description, columns and types."""
    con = open_reader()
    try:
        relations = con.execute(
            "SELECT table_name, 'table' AS kind, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT internal "
            "UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal "
            "ORDER BY 1"
        ).fetchall()
        cols = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    by_table: dict[str, list[dict[str, str]]] = {}
    for table, column, kind in cols:
        by_table.setdefault(table, []).append({"name": column, "type": kind})
    return [
        {
            "name": name,
            "kind": kind,
            "description": comment or "",
            "columns": by_table.get(name, []),
        }
        for name, kind, comment in relations
        if name not in INTERNAL_TABLES
    ]


def build_server(open_reader: Reader):
    """The MCP server with the tools `tables` and `query` and a few prompts."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(name="t212-etl", instructions=INSTRUCTIONS)

    @server.tool(description="Every table and view: description, columns and their types.")
    def tables() -> list[dict[str, Any]]:
        return describe_tables(open_reader)

    @server.tool(
        description=(
            "Run one read-only SQL statement (DuckDB). Returns columns, rows (at most "
            f"{MAX_ROWS}; decimals and times as exact strings) and truncated."
        )
    )
    def query(sql: str) -> dict[str, Any]:
        try:
            return answer_query(open_reader, sql)
        except QueryFailed as exc:
            raise ToolError(str(exc)) from None

    for name, (description, body) in PROMPTS.items():
        server.prompt(name=name, description=description)(_constant(body))
    return server


def _constant(body: str) -> Callable[[], str]:
    def prompt() -> str:
        return body

    return prompt
