"""CSV reports through the API: one per year, polled until done, fetched without credentials."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from extractors.client import ApiResponse, T212Client
from extractors.download import Downloader, link_host
from extractors.errors import MalformedResponse, ReportFailed, T212Error
from extractors.extraction import parse_time

EXPORTS = "/api/v0/equity/history/exports"
INCLUDE_ALL = {
    "includeDividends": True,
    "includeInterest": True,
    "includeOrders": True,
    "includeTransactions": True,
}
WAITING = frozenset({"Queued", "Processing", "Running"})
ENDED_BADLY = frozenset({"Failed", "Canceled", "Cancelled"})


@dataclass(frozen=True)
class Period:
    """The time range of one report: a calendar year, up to ``time_to`` for the current one."""

    year: int
    time_from: datetime
    time_to: datetime

    @property
    def complete(self) -> bool:
        """Whether the range reaches the end of its year (the year cannot change any more)."""
        return self.time_to >= datetime(self.year + 1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReportFile:
    """A report's bytes as received, where they came from, and the period they cover."""

    source: str
    body: bytes
    period: Period | None = None


def periods(first_year: int, now: datetime, done: Iterable[int]) -> list[Period]:
    """One period per year from ``first_year`` to now, leaving out the years in ``done``.

    The current year is always included: it reaches ``now`` and is still growing.
    """
    done = set(done)
    wanted = []
    for year in range(first_year, now.year + 1):
        end = min(datetime(year + 1, 1, 1, tzinfo=UTC), now)
        if year == now.year or year not in done:
            wanted.append(Period(year, datetime(year, 1, 1, tzinfo=UTC), end))
    return wanted


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_path(report_id: int, period: Period) -> str:
    """The request path landed with a report: it names the report and its period only."""
    query = {"reportId": report_id, "timeFrom": _iso(period.time_from)}
    return f"{EXPORTS}?{urlencode({**query, 'timeTo': _iso(period.time_to)})}"


def report_file(request_path: str, body: bytes) -> ReportFile:
    """A landed report page back as a report file (the period comes from its path)."""
    parts = urlsplit(request_path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if parts.path != EXPORTS or "timeFrom" not in query or "timeTo" not in query:
        return ReportFile(request_path, body)
    start = datetime.fromisoformat(query["timeFrom"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(query["timeTo"].replace("Z", "+00:00"))
    source = f"report {query.get('reportId', '?')} of {start.year}"
    return ReportFile(source, body, Period(start.year, start, end))


@dataclass(frozen=True)
class Requested:
    """Reports asked for earlier (``ids``: period -> report id, polled, not asked again) and
    what to call with each new (period, report id) as soon as it is known."""

    ids: Mapping[Period, int] = field(default_factory=dict)
    on_request: Callable[[Period, int], None] | None = None


@dataclass(frozen=True)
class Patience:
    """How long reports may take to end (``timeout`` seconds), on which clock."""

    timeout: float = 3600.0
    clock: Callable[[], float] = time.monotonic


def fetch_reports(
    client: T212Client,
    wanted: list[Period],
    downloader: Downloader,
    *,
    patience: Patience = Patience(),
    requested: Requested | None = None,
) -> Iterator[ApiResponse]:
    """Request a report per period, poll the list until each ends, yield each file as a page.

    The client's limiter spaces the requests (POST 1 / 30 s, GET 1 / 60 s). Reports that
    end Failed or Canceled, or are not finished within ``patience.timeout`` seconds, raise
    ReportFailed after the others were yielded. Errors quote no credential (the client's
    redactor masks them). A period in ``requested.ids`` whose report is still listed is
    polled, not requested again (a run resumed after a kill).
    """
    try:
        yield from _reports(client, wanted, downloader, patience, requested or Requested())
    except T212Error as exc:
        client.redact_error(exc)
        raise


def _report_id(client: T212Client, answer: ApiResponse) -> int:
    report_id = answer.data.get("reportId") if isinstance(answer.data, dict) else None
    if isinstance(report_id, int) and not isinstance(report_id, bool):
        return report_id
    raise MalformedResponse(
        f"POST {EXPORTS}: the answer names no report id "
        f"({client.redactor.quote(answer.body, 120)!r}); run again later",
        status=answer.status,
        path=EXPORTS,
    )


def _entries(listing: ApiResponse) -> list[dict]:
    data = listing.data if isinstance(listing.data, list) else []
    return [entry for entry in data if isinstance(entry, dict)]


def _same_request(entry: dict, period: Period) -> bool:
    """Whether a listed report was asked for with this period and everything included."""
    included = entry.get("dataIncluded")
    if not isinstance(included, dict):
        return False
    if any(included.get(name) is not value for name, value in INCLUDE_ALL.items()):
        return False
    times = [parse_time(entry.get(name)) for name in ("timeFrom", "timeTo")]
    wanted = [_iso(period.time_from), _iso(period.time_to)]
    return all(times) and [_iso(t) for t in times if t] == wanted


def request_report(client: T212Client, period: Period, known: set[int]) -> int:
    """Ask for the report of ``period``; its id. ``known`` holds the ids listed before.

    A POST is not repeated blindly: when its answer is lost (a 5xx, a timeout, a reset
    or a garbled body), the list is read first, and a report of the same period and
    contents that is not in ``known`` is the one it made. The new id joins ``known``.
    """
    body = {"dataIncluded": INCLUDE_ALL, "timeFrom": _iso(period.time_from),
            "timeTo": _iso(period.time_to)}  # fmt: skip

    def lost_answer() -> ApiResponse | None:
        listing = client.get(EXPORTS)
        made = [
            entry["reportId"]
            for entry in _entries(listing)
            if isinstance(entry.get("reportId"), int)
            and entry["reportId"] not in known
            and _same_request(entry, period)
        ]
        if not made:
            return None
        return ApiResponse(EXPORTS, listing.url, 200, b"", {"reportId": max(made)})

    answer = client.request("POST", EXPORTS, json_body=body, recover=lost_answer)
    report_id = _report_id(client, answer)
    known.add(report_id)
    return report_id


def _reports(
    client: T212Client,
    wanted: list[Period],
    downloader: Downloader,
    patience: Patience,
    requested: Requested,
) -> Iterator[ApiResponse]:
    pending: dict[int, Period] = {}
    # the reports listed before asking: a lost answer is looked for among the others
    listed = _entries(client.get(EXPORTS)) if wanted else []
    known = {e["reportId"] for e in listed if isinstance(e.get("reportId"), int)}
    alive = {e.get("reportId") for e in listed if e.get("status") not in ENDED_BADLY}
    for period in wanted:
        report_id = requested.ids.get(period)
        if report_id not in alive:  # never asked, no longer listed, or failed: ask (again)
            report_id = request_report(client, period, known)
            if requested.on_request is not None:
                requested.on_request(period, report_id)
        pending[report_id] = period
    failed: list[str] = []
    clock = patience.clock
    deadline = clock() + patience.timeout
    while pending:
        if clock() > deadline:
            failed += [f"{p.year} (report {i}) not finished" for i, p in pending.items()]
            break
        listing = client.get(EXPORTS)
        for entry in _entries(listing):
            report_id = entry.get("reportId")
            if report_id not in pending:
                continue
            status = client.redactor.quote(str(entry.get("status")), 40)
            if status == "Finished" and entry.get("downloadLink"):
                period = pending.pop(report_id)
                body = downloader.fetch(str(entry["downloadLink"]), client.time_left())
                yield ApiResponse(
                    page_path(report_id, period),
                    f"report {report_id} from {link_host(str(entry['downloadLink']))}",
                    200,
                    body,
                    ReportFile(f"report {report_id} of {period.year}", body, period),
                )
            elif status in ENDED_BADLY:
                failed.append(f"{pending.pop(report_id).year} (report {report_id}) {status}")
    if failed:
        raise ReportFailed(
            f"CSV report(s) for {', '.join(failed)}; they are requested again on the next run"
        )
