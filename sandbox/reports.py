"""CSV reports: requests, their Queued -> Processing -> Finished life, and the file."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sandbox.account import AccountBook
from sandbox.csvreport import report_rows, rows_to_csv
from sandbox.wire import iso, parse_iso

YEAR_MS = 366 * 86_400_000  # a leap year still counts as one year


class ReportError(ValueError):
    """A report request the service refuses (400)."""


@dataclass(frozen=True)
class Report:
    """One requested report."""

    report_id: int
    account_id: int
    created: float
    from_ms: int
    to_ms: int
    time_from: str
    time_to: str
    included: dict
    fate: str = "Finished"


class ReportDesk:
    """Accepts report requests and answers their status from the (scaled) elapsed time."""

    def __init__(self, seed: int, report_seconds: float, time_scale: float) -> None:
        self._duration = report_seconds * time_scale
        self._lock = threading.Lock()
        self._reports: dict[int, Report] = {}
        self._next_id = 4_000_000 + seed % 1000 * 1000
        self._fates: list[str] = []

    def fail_next(self, status: str = "Failed", times: int = 1) -> None:
        """Make the next ``times`` requested reports end in ``status`` instead of Finished."""
        if status not in ("Failed", "Canceled"):
            raise ValueError("status must be Failed or Canceled")
        with self._lock:
            self._fates += [status] * times

    def request(self, account_id: int, body: object) -> Report:
        """Validate a ``PublicReportRequest`` body and queue a report."""
        if not isinstance(body, dict):
            raise ReportError("request body must be a JSON object")
        included = body.get("dataIncluded") or {}
        if not isinstance(included, dict):
            raise ReportError("dataIncluded must be an object")
        flags = ("includeDividends", "includeInterest", "includeOrders", "includeTransactions")
        included = {k: bool(included.get(k, False)) for k in flags}
        try:
            from_ms = parse_iso(str(body["timeFrom"]))
            to_ms = parse_iso(str(body["timeTo"]))
        except (KeyError, ValueError) as exc:
            raise ReportError("timeFrom and timeTo must be ISO 8601 date-times") from exc
        if to_ms <= from_ms:
            raise ReportError("timeTo must be after timeFrom")
        if to_ms - from_ms > YEAR_MS:
            raise ReportError("The time range of a report cannot exceed one year")
        with self._lock:
            self._next_id += 1
            fate = self._fates.pop(0) if self._fates else "Finished"
            report = Report(
                self._next_id, account_id, time.monotonic(), from_ms, to_ms,
                iso(from_ms), iso(to_ms), included, fate,
            )  # fmt: skip
            self._reports[report.report_id] = report
        return report

    def status(self, report: Report) -> str:
        """Queued for the first third of the duration, then Processing, then its fate."""
        elapsed = time.monotonic() - report.created
        if elapsed >= self._duration:
            return report.fate
        return "Queued" if elapsed < self._duration / 3 else "Processing"

    def listing(self, account_id: int, base_url: str) -> list[dict]:
        """The ``ReportResponse`` list of an account, newest first."""
        with self._lock:
            mine = [r for r in self._reports.values() if r.account_id == account_id]
        result = []
        for report in sorted(mine, key=lambda r: -r.report_id):
            status = self.status(report)
            link = None
            if status == "Finished":
                link = f"{base_url}/_sandbox/reports/{report.report_id}.csv"
            result.append(
                {
                    "reportId": report.report_id,
                    "timeFrom": report.time_from,
                    "timeTo": report.time_to,
                    "dataIncluded": report.included,
                    "status": status,
                    "downloadLink": link,
                }
            )
        return result

    def finished(self, report_id: int) -> Report | None:
        """The report if it exists and is finished."""
        with self._lock:
            report = self._reports.get(report_id)
        if report is None or self.status(report) != "Finished":
            return None
        return report


def render_csv(report: Report, book: AccountBook) -> bytes:
    """The report file, in the shape of the real export."""
    return rows_to_csv(report_rows(report.from_ms, report.to_ms, report.included, book))
