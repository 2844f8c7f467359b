"""`t212-etl dashboard`: one self-contained HTML page of charts and tables from the warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from warehouse import connect_readonly
from warehouse.files import write_atomic

DASHBOARD_FILE = "dashboard.html"


class UnknownAccount(ValueError):
    """An account asked for is not in the warehouse."""


def build_dashboard(
    data_dir: Path, account_ids: Sequence[int] | None = None, as_of: datetime | None = None
) -> str:
    """The dashboard page of ``account_ids`` (default every account) as HTML text."""
    from flows.app.dashboard.queries import account_ids as known_accounts
    from flows.app.dashboard.queries import read_account
    from flows.app.dashboard.render import render_page

    as_of = as_of or datetime.now(UTC)
    con = connect_readonly(Path(data_dir))
    try:
        known = known_accounts(con)
        wanted = list(account_ids) if account_ids else known
        missing = [a for a in wanted if a not in known]
        if missing:
            raise UnknownAccount(
                f"no account {', '.join(map(str, missing))} in the warehouse "
                f"(it has: {', '.join(map(str, known)) or 'none'})"
            )
        accounts = [read_account(con, account_id, as_of) for account_id in wanted]
    finally:
        con.close()
    return render_page(accounts, as_of)


def write_dashboard(
    data_dir: Path,
    output: Path | None = None,
    account_ids: Sequence[int] | None = None,
    as_of: datetime | None = None,
) -> Path:
    """Write the dashboard (default ``<data_dir>/dashboard.html``, owner-only) at its path."""
    target = Path(output) if output else Path(data_dir) / DASHBOARD_FILE
    write_atomic(target, build_dashboard(data_dir, account_ids, as_of).encode("utf-8"))
    return target
