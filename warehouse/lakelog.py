"""What a direct commit of the run log sends: this worker's new runs, or its last ones again.

The run log's lake tables (``runs``, ``run_resources``) hold every worker's runs, merged on
the key; the Delta library's merge reads every file of the table to do it. Run ids sort
by start time and a run's rows change only while it runs (and when its last publish
fails), so after each commit the worker notes (setting ``lake_log:<table>``) the version
it made, the run ids it had sent up to (``from``, exclusive, then ``upto``), a
fingerprint of its rows on either side of ``from``, and the file that holds the rows
after ``from`` when it wrote that file itself. The next commit, from that version, then
either appends the rows after ``upto`` (the others are unchanged), or replaces that
file by the rows after ``from`` (one of the last runs changed: a run logged as running,
then finished). Anything else (an older run changed, the file compacted away, a commit
whose note was lost) is the library's merge, as without a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from transforms.catalogue import Table
from warehouse.bookkeeping import SETTINGS
from warehouse.lakestate import DataFile, TableState
from warehouse.merge import q

NOTE = "lake_log:"  # settings named <this><table>
FIRST = ""  # sorts before every run id


@dataclass(frozen=True)
class LogPlan:
    """A direct commit of the run log: the rows after ``start``, replacing ``removed``."""

    start: str
    removed: DataFile | None

    @property
    def where(self) -> str:
        return after(self.start)


def after(run_id: str) -> str:
    """The DuckDB condition of the rows of runs after ``run_id``."""
    return '"run_id" > ' + "'" + run_id.replace("'", "''") + "'"


def _fingerprint(con: duckdb.DuckDBPyConnection, table: Table, where: str) -> list:
    row = con.execute(
        f"SELECT count(*), CAST(bit_xor(hash(t)) AS VARCHAR) FROM {q(table.name)} t WHERE {where}"
    ).fetchall()[0]
    return [int(row[0]), row[1]]


def _between(start: str, end: str) -> str:
    return f"{after(start)} AND NOT ({after(end)})"


def read_note(con: duckdb.DuckDBPyConnection, table: Table) -> dict | None:
    """The note the worker's last commit of ``table`` left, or None."""
    rows = con.execute(
        f"SELECT value FROM {q(SETTINGS.name)} WHERE name = ?", [f"{NOTE}{table.name}"]
    ).fetchall()
    return json.loads(rows[0][0]) if rows else None


def plan(
    con: duckdb.DuckDBPyConnection, table: Table, note: dict | None, state: TableState | None
) -> LogPlan | None:
    """The direct commit that brings the lake's copy of this worker's runs up to date, given
    the table's verified ``state``; None when only the library's merge can."""
    if note is None or state is None or note.get("version") != state.version:
        return None  # the note is of another version: a commit whose note was not kept
    start, upto = note["from"], note["upto"]
    if _fingerprint(con, table, f"NOT ({after(start)})") != note["old"]:
        return None  # an older run changed or went away
    if _fingerprint(con, table, _between(start, upto)) == note["recent"]:
        return LogPlan(upto, None)
    own = [f for f in state.files if f.path == note["file"]]
    return LogPlan(start, own[0]) if own else None


def describe(
    read: duckdb.DuckDBPyConnection,
    table: Table,
    made: TableState | None,
    start: str | None,
    written: DataFile | None,
) -> dict:
    """The note of the commit that made ``made`` and sent the rows ``read`` sees: those
    after ``start`` in the file ``written`` (a direct commit), or every row (``start`` None,
    the library's merge). Taken on the connection the rows were read from, so it describes
    what was sent."""
    last = read.execute(f'SELECT max("run_id") FROM {q(table.name)}').fetchall()[0][0] or FIRST
    start = last if start is None else start
    return {
        "version": None if made is None else made.version,
        "from": start,
        "upto": last,
        "old": _fingerprint(read, table, f"NOT ({after(start)})"),
        "recent": _fingerprint(read, table, _between(start, last)),
        "file": None if written is None else written.path,
    }


def write_note(con: duckdb.DuckDBPyConnection, table: Table, note: dict) -> None:
    """Keep ``note`` (see :func:`describe`) for the next commit of ``table``."""
    con.execute(
        f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)",
        [f"{NOTE}{table.name}", json.dumps(note)],
    )
