"""Readers of the published warehouse: a connection that can read and change nothing else."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse.parquet import PARQUET_DIR, PUBLISHED

if TYPE_CHECKING:
    from warehouse.lake import Lake

DATABASE_FILE = "warehouse.duckdb"
# What a reader may run: an allow-list. Anything else (COPY, EXPORT, ATTACH, INSTALL, LOAD,
# SET, PRAGMA, CALL, writes, kinds this DuckDB has no name for) is refused before DuckDB sees
# it. A MULTI (what a PIVOT without IN becomes) and an EXPLAIN are judged by what they hold.
READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})
# The words a statement that only reads can open with
READ_OPENINGS = frozenset(
    {"SELECT", "FROM", "VALUES", "TABLE", "PIVOT", "UNPIVOT", "SUMMARIZE", "DESCRIBE", "SHOW"}
)
READ_ONLY_HINT = "t212-etl sql only reads"


class WarehouseMissing(FileNotFoundError):
    """No published warehouse exists yet in this data directory."""


class QueryFailed(Exception):
    """A statement refused, stopped or failed; the message is one line for the user."""


class WriteRefused(PermissionError):
    """A statement given to a reader would write, attach, load or reconfigure something."""


def connect_readonly(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the published ``warehouse.duckdb`` read-only, as readers and ``sql`` should.

    The connection reads the database and the Parquet files under ``<data>/parquet/``
    and nothing else: no other file, no URL, no extension, and its settings are locked.
    """
    data_dir = Path(data_dir)
    path = data_dir / DATABASE_FILE
    if not path.is_file():
        raise WarehouseMissing(f"no warehouse at {path}: run `t212-etl run` first")
    return _connect(str(path), [_readable(data_dir)], lambda con: None)


def _connect(
    path: str | None, readable: list[str], fill: Callable[[duckdb.DuckDBPyConnection], None]
) -> duckdb.DuckDBPyConnection:
    """A reader's connection (read-only for a file): ``fill`` runs before it is locked down
    to the ``readable`` directories, no extension and no setting change.

    A file is attached read-only to a DuckDB of its own, the only database it sees, not
    opened by path: DuckDB shares one database between the connections a process opens
    to one path, so a second reader (an MCP server answering two tool calls at once) met
    the first one's locked settings and failed.
    """
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        if path is not None:
            name = Path(path).stem.replace('"', '""')
            con.execute(f'ATTACH ? AS "{name}" (READ_ONLY)', [path])
            con.execute(f'USE "{name}"')
            con.execute("DETACH memory")
        # DuckDB draws a progress bar on stdout past two seconds: it would corrupt `sql`'s output
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        fill(con)
        if readable:
            con.execute("SET allowed_directories = $dirs", {"dirs": readable})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def connect_lake(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB reading the lake's tables at their last commit, with every view.

    Each table is the Arrow dataset of its Delta table's current version (DuckDB scans
    it lazily, filters pushed down); a table the lake does not have yet reads as empty.
    The portfolio views convert to account currencies only: ``base_currency`` lives in
    each worker's database. External access is then switched off, as for the local file.
    """
    from warehouse.bookkeeping import LOAD_STATE, SETTINGS
    from warehouse.views import create_views

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        for name, table in PUBLISHED.items():
            target = lake.open_table(name)
            empty = table.arrow_schema().empty_table()
            con.register(name, empty if target is None else target.to_pyarrow_dataset())
        con.execute(SETTINGS.duckdb_ddl())
        con.execute(LOAD_STATE.duckdb_ddl())  # the cursors stay with each worker: none here
        create_views(con)

    return _connect(None, [], fill)


def _readable(data_dir: Path) -> str:
    """The Parquet directory, absolute and ending in a separator so siblings do not match."""
    return str((data_dir / PARQUET_DIR).resolve()) + "/"


def check_read_only(query: str) -> None:
    """Raise :class:`WriteRefused` unless every statement of ``query`` only reads.

    An allow-list: SELECT, an EXPLAIN of one, and a MULTI whose main statement opens as
    a SELECT does. DuckDB refuses writes to the database and to files outside the Parquet
    directory by itself; this also keeps a COPY (in whatever shape) from writing into the
    Parquet directory the reader may read. A query DuckDB cannot parse raises its
    ``duckdb.ParserException``.
    """
    for statement in duckdb.extract_statements(query):
        refused = _refused(statement)
        if refused:
            raise WriteRefused(
                f"{READ_ONLY_HINT} (read-only): {refused} statements are refused; "
                "only SELECT (or an EXPLAIN of one) runs; to save a result, use --format csv "
                "or json and redirect the output"
            )


def _refused(statement: duckdb.Statement) -> str | None:
    """The kind of statement that makes ``statement`` more than a read, or None."""
    try:
        kind = statement.type.name
    except ValueError:  # a statement type the Python module has no name for
        return "unknown"
    if kind not in {"EXPLAIN", "MULTI"}:
        return None if kind in READ_STATEMENTS else kind
    if _main_word(statement.query) == "EXPLAIN":
        explained = _explained(statement.query)
        inner = duckdb.extract_statements(explained) if explained else []
        if len(inner) != 1:
            return "EXPLAIN"
        refused = _refused(inner[0])
        return refused and f"EXPLAIN of {refused}"
    if kind == "MULTI":
        main = _main_word(statement.query)
        return None if main in READ_OPENINGS else f"{main or 'unknown'} (with a PIVOT)"
    return kind


def _tokens(query: str) -> list[tuple[int, str, int]]:
    """``query``'s tokens but comments: offset, upper-case text, change in bracket depth."""
    tokens = duckdb.tokenize(query)
    ends = [offset for offset, _ in tokens[1:]] + [len(query)]
    found = []
    for (offset, kind), end in zip(tokens, ends, strict=True):
        text = query[offset:end].strip().upper()
        depth = text.count("(") - text.count(")") if kind == duckdb.token_type.operator else 0
        if kind != duckdb.token_type.comment:
            found.append((offset, text if depth == 0 else "(" if depth > 0 else ")", depth))
    return found


def _explained(query: str) -> str:
    """What an ``EXPLAIN [(options)] [ANALYZE]`` statement explains, as text."""
    tokens = _tokens(query)
    words = [text for _, text, _ in tokens]
    depth = 0
    for offset, text, change in tokens[words.index("EXPLAIN") + 1 :]:
        if depth == 0 and change == 0 and text not in {"ANALYZE", "ANALYSE"}:
            return query[offset:]
        depth += change
    return ""


def _main_word(query: str) -> str:
    """The word a statement's main part opens with: past opening brackets and a WITH's CTEs."""
    tokens = [(text, change) for _, text, change in _tokens(query) if text != ";"]
    while tokens[:1] == [("(", 1)]:
        tokens = tokens[1:]
    if tokens[:1] != [("WITH", 0)]:
        return tokens[0][0] if tokens else ""
    depth = 0
    for (previous, _), (word, change) in itertools.pairwise(tokens):
        if depth == 0 and previous == ")" and word not in {",", "AS", "USING"}:
            return word
        depth += change
    return ""


def read_query(
    con: duckdb.DuckDBPyConnection,
    query: str,
    limit: int | None = None,
    seconds: float | None = None,
) -> tuple[list[str], list[tuple], bool]:
    """Run ``query`` under :func:`check_read_only`: its columns, rows and whether they were cut.

    At most ``limit`` rows are fetched; a statement still running after ``seconds`` is
    interrupted. Every refusal or failure is a :class:`QueryFailed` of one line.
    """
    timer = threading.Timer(seconds, con.interrupt) if seconds else None
    if timer:
        timer.start()
    try:
        check_read_only(query)
        result = con.execute(query)
        columns = [d[0] for d in result.description or []]
        if not columns:
            return columns, [], False
        rows = result.fetchall() if limit is None else result.fetchmany(limit + 1)
    except WriteRefused as exc:
        raise QueryFailed(str(exc)) from None
    except duckdb.InterruptException:
        raise QueryFailed(
            f"the query ran past {seconds:g} s and was stopped: narrow it (a WHERE, a LIMIT)"
        ) from None
    except duckdb.PermissionException as exc:
        raise QueryFailed(
            f"{READ_ONLY_HINT} the warehouse and the Parquet files under its data directory: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    except duckdb.Error as exc:
        raise QueryFailed(f"SQL error: {str(exc).splitlines()[0]}") from None
    finally:
        if timer:
            timer.cancel()
    cut = limit is not None and len(rows) > limit
    return columns, rows[:limit] if cut else rows, cut
