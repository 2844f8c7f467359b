"""`t212-etl import-csv`: reports downloaded by hand, landed raw, parsed and merged like any run."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from extractors.reports import ReportFile
from extractors.resources import RESOURCES
from flows.pipeline.context import new_run_id
from flows.pipeline.merging import load_of, merge_normalised
from flows.pipeline.portfolio import refresh_portfolio_step
from flows.pipeline.rebuild import replay_stale
from flows.pipeline.reports import report_cursor
from transforms.frames import odd_currencies
from transforms.reports import ReportFileError, normalise_reports
from warehouse import GLOBAL_ACCOUNT, MergeCounts, Warehouse, raw
from warehouse.crashpoints import crash_if_asked

if TYPE_CHECKING:
    from warehouse.publisher import Publisher

IMPORT_PREFIX = "import:"
# Files are held whole while they are parsed (several times their size in memory); a
# year of a busy account's report is tens of MB.
MAX_IMPORT_BYTES = 512 * 2**20


class ImportRefused(ValueError):
    """Nothing was imported: a file is unreadable or the account is unclear (one line)."""


@dataclass
class ImportResult:
    """What an import loaded."""

    run_id: str
    account_id: int
    files: int
    counts: dict[str, MergeCounts] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    unknown_columns: set[str] = field(default_factory=set)


def known_accounts(wh: Warehouse) -> list[int]:
    """The account ids the warehouse has loaded anything for."""
    rows = wh.connection.execute(
        'SELECT DISTINCT "account_id" FROM "load_state" WHERE "account_id" <> ? ORDER BY 1',
        [GLOBAL_ACCOUNT],
    ).fetchall()
    return [r[0] for r in rows]


def _account(wh: Warehouse, account_id: int | None) -> int:
    if account_id is not None:
        return account_id
    known = known_accounts(wh)
    if len(known) == 1:
        return known[0]
    if not known:
        raise ImportRefused(
            "the warehouse knows no account yet: pass --account-id N (the id Trading 212 "
            "shows, or run `t212-etl run` once)"
        )
    raise ImportRefused(
        f"the warehouse holds accounts {', '.join(map(str, known))}: pass --account-id N"
    )


def _read(paths: Sequence[Path]) -> list[ReportFile]:
    """Every file whole, or a refusal before the first byte past the cap is read."""
    files, total = [], 0
    for path in paths:
        try:
            body = _read_regular(path, MAX_IMPORT_BYTES - total + 1)
        except OSError as exc:
            raise ImportRefused(f"{path}: cannot read it ({exc.strerror or exc})") from None
        total += len(body)
        if total > MAX_IMPORT_BYTES:
            cap = f"{MAX_IMPORT_BYTES / 2**20:.0f} MiB"
            if len(files) == 0:
                raise ImportRefused(
                    f"{path}: larger than import-csv reads at once ({cap}): export shorter "
                    "periods from Trading 212 and import those files"
                )
            raise ImportRefused(
                f"{path}: these files hold more than import-csv reads at once ({cap}): "
                "import them in several goes"
            )
        files.append(ReportFile(f"{IMPORT_PREFIX}{path.name}", body))
    return files


def _read_regular(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; a FIFO, device or folder is refused unread
    (opened without blocking, then checked on the open descriptor)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ImportRefused(f"{path}: not a regular file: give the CSV file itself")
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def import_reports(
    data_dir: Path,
    paths: Sequence[Path],
    *,
    account_id: int | None = None,
    lock_timeout: float = 0.0,
    publisher: Publisher | None = None,
) -> ImportResult:
    """Check every file, land them in the raw zone, merge them into ``activity``, publish.

    A file that cannot be read whole refuses the whole import before anything is
    written. Rows merge on their key, so importing a file twice changes nothing.
    The ``publisher`` (local Parquet unless given) holds the account while it writes: a
    lake's lease, taken once the account is known.
    """
    files = _read(paths)
    started, clock = datetime.now(UTC), time.monotonic()
    resource = RESOURCES["reports"]
    with (
        Warehouse.open(data_dir, lock_timeout=lock_timeout, publisher=publisher) as wh,
        contextlib.ExitStack() as held,
    ):
        replay_stale(wh)  # only after an upgrade that re-keyed a table
        account = _account(wh, account_id)
        held.enter_context(wh.publisher.held({account: str(account)}))
        wh.catch_up([account])  # what other workers published of the account stays
        try:
            normalised = normalise_reports([(f.source, f.body) for f in files], account_id=account)
        except ReportFileError as exc:
            raise ImportRefused(f"nothing imported: {exc}") from None
        run_id = new_run_id(started)
        for number, report in enumerate(files, start=1):
            raw.write_page(
                wh.data_dir,
                raw.RunKey(str(account), resource.name, run_id, started),
                raw.RawPage(number, report.body, report.source, started),
            )
        raw.write_run_complete(
            wh.data_dir, account=str(account), resource=resource.name, run_id=run_id,
            pages=len(files),
        )  # fmt: skip
        crash_if_asked("import.landed")
        state = wh.get_state(account, resource.name)
        load = load_of(resource, account, run_id, started)
        counts = merge_normalised(wh, load, normalised, report_cursor(files, state))
        wh.create_views()
        problems = refresh_portfolio_step(wh, run_id=run_id, loaded_at=started)
        finished = datetime.now(UTC)
        seconds = time.monotonic() - clock
        wh.run_log.record_resource_result(
            run_id, account, resource.name, outcome="success", counts=counts,
            finished_at=finished, duration_seconds=seconds,
        )  # fmt: skip
        wh.run_log.record_run(
            run_id, started_at=started, finished_at=finished, outcome="success",
            accounts=[account], duration_seconds=seconds,
        )  # fmt: skip
        wh.publish()
    return ImportResult(
        run_id,
        account,
        len(files),
        counts,
        [*normalised.notices, *odd_currencies(normalised.frames), *problems],
        {f.removeprefix("column ") for f in normalised.unknown_fields},
    )
