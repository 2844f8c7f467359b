"""The raw landing zone: every API page exactly as received, gzip-compressed, per run.

Layout: ``raw/<account>/<resource>/<run_id>/`` holding ``run.json`` (run id,
account, resource, the run's start time which is also its snapshot time),
``page-00001.json.gz`` (the body bytes as received) with ``page-00001.meta.json``
(request path and receive time) per page, and ``complete.json`` once every page
of the run has landed. Headers and credentials are never stored.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warehouse.files import ensure_dir, escape_component, sync_files, write_atomic, write_quick

RAW_DIR = "raw"
RUN_FILE = "run.json"
COMPLETE_FILE = "complete.json"
_BODY_SUFFIX = ".json.gz"
_META_SUFFIX = ".meta.json"
_READ_AHEAD = 32  # pages read and decompressed ahead of the consumer
# gzip's fastest level: pages are landed at the speed of the network, read back rarely
_LEVEL = 1
# manifests this process has written: a page of a started run needs no directory check
_STARTED: set[Path] = set()


class UnreadablePage(Exception):
    """A landed page's files cannot be read or decompressed; names the file."""

    def __init__(self, path: Path, reason: object) -> None:
        super().__init__(f"landed page {path} cannot be read ({reason})")
        self.path = path


@dataclass(frozen=True)
class RawRun:
    """One run of one resource for one account in the raw zone."""

    account: str
    resource: str
    run_id: str
    started_at: datetime
    complete: bool
    path: Path


@dataclass(frozen=True)
class RunKey:
    """Which run a page belongs to: the account, the resource, the run and its start."""

    account: object
    resource: str
    run_id: str
    started_at: datetime


@dataclass(frozen=True)
class RawPage:
    """One landed page: its number, body as received, request path and receive time."""

    number: int
    body: bytes
    request_path: str
    received_at: datetime


def run_dir(data_dir: Path, account: object, resource: str, run_id: str) -> Path:
    """The directory of one run, with every component escaped."""
    parts = (escape_component(account), escape_component(resource), escape_component(run_id))
    return Path(data_dir) / RAW_DIR / Path(*parts)


def page_files(directory: Path, number: int) -> tuple[Path, Path]:
    """The compressed body and the metadata file of page ``number`` of the run in ``directory``."""
    name = _page_name(number)
    return directory / f"{name}{_BODY_SUFFIX}", directory / f"{name}{_META_SUFFIX}"


def landed_numbers(directory: Path) -> list[int]:
    """The numbers of the pages landed in the run in ``directory`` (metadata written), sorted."""
    metas = directory.glob(f"page-*{_META_SUFFIX}")
    names = (p.name.removeprefix("page-").removesuffix(_META_SUFFIX) for p in metas)
    return sorted(int(n) for n in names if n.isdigit())


def _page_name(number: int) -> str:
    if number < 1:
        raise ValueError(f"page numbers start at 1, got {number}")
    return f"page-{number:05d}"


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("raw zone timestamps must be timezone-aware")
    return moment.isoformat()


def write_page(data_dir: Path, key: RunKey, page: RawPage) -> Path:
    """Land one page body exactly as received; returns the path of the compressed body.

    The metadata file is written after the body, so a page counts as landed only
    once both exist; rewriting the same page (a retried run) replaces it atomically.
    Pages reach the disk when the run is marked complete (:func:`write_run_complete`),
    one sync for all of them instead of two per page.
    """
    account, resource, run_id = key.account, key.resource, key.run_id
    directory = run_dir(data_dir, account, resource, run_id)
    run_file = directory / RUN_FILE
    if run_file not in _STARTED and not run_file.exists():
        ensure_dir(directory)
        manifest = {
            "run_id": run_id,
            "account": str(account),
            "resource": resource,
            "started_at": _iso(key.started_at),
        }
        write_atomic(run_file, json.dumps(manifest, sort_keys=True).encode())
    _STARTED.add(run_file)
    name = _page_name(page.number)
    body_path = directory / f"{name}{_BODY_SUFFIX}"
    write_quick(body_path, gzip.compress(bytes(page.body), compresslevel=_LEVEL, mtime=0))
    meta = {
        "page": page.number,
        "request_path": page.request_path,
        "received_at": _iso(page.received_at),
    }
    write_quick(directory / f"{name}{_META_SUFFIX}", json.dumps(meta, sort_keys=True).encode())
    return body_path


def write_run_complete(
    data_dir: Path, *, account: object, resource: str, run_id: str, pages: int
) -> None:
    """Mark a run as complete: all ``pages`` pages landed (an empty run has zero pages).

    Every page is flushed to disk first, so a complete run is whole after a power cut.
    """
    directory = ensure_dir(run_dir(data_dir, account, resource, run_id))
    if not (directory / RUN_FILE).exists():
        raise FileNotFoundError(f"raw run {run_id} of {resource} has no manifest")
    sync_files(directory)
    write_atomic(directory / COMPLETE_FILE, json.dumps({"pages": pages}).encode())


def _read_run(path: Path) -> RawRun | None:
    try:
        manifest = json.loads((path / RUN_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return RawRun(
        account=manifest["account"],
        resource=manifest["resource"],
        run_id=manifest["run_id"],
        started_at=datetime.fromisoformat(manifest["started_at"]),
        complete=(path / COMPLETE_FILE).exists(),
        path=path,
    )


def iter_runs(
    data_dir: Path,
    *,
    account: object | None = None,
    resource: str | None = None,
    include_incomplete: bool = False,
) -> Iterator[RawRun]:
    """Runs in the raw zone in run order (start time, then run id, account, resource).

    Incomplete runs (interrupted before all pages landed) are skipped unless
    ``include_incomplete``: replaying a partial list would be wrong.
    """
    root = Path(data_dir) / RAW_DIR
    account_glob = escape_component(account) if account is not None else "*"
    resource_glob = escape_component(resource) if resource is not None else "*"
    runs = [
        run
        for path in root.glob(f"{account_glob}/{resource_glob}/*")
        if path.is_dir() and (run := _read_run(path)) is not None
    ]
    runs.sort(key=lambda r: (r.started_at, r.run_id, r.account, r.resource))
    for run in runs:
        if run.complete or include_incomplete:
            yield run


def iter_pages(run: RawRun) -> Iterator[RawPage]:
    """The landed pages of ``run`` in page order, bodies decompressed to the bytes received.

    Raises :class:`UnreadablePage` naming the first file that cannot be read.
    """
    metas = sorted(_read_meta(p) for p in run.path.glob(f"page-*{_META_SUFFIX}"))
    for number, request_path, received_at in metas:
        body = _read_body(run.path / f"{_page_name(number)}{_BODY_SUFFIX}")
        yield RawPage(number, body, request_path, received_at)


def iter_bodies(run: RawRun) -> Iterator[bytes]:
    """The page bodies of ``run`` in page order, decompressed, read ahead on two threads.

    Replaying needs the bodies only, so the metadata files are listed, not read; reading
    and decompressing release the interpreter, so they overlap the consumer's work.
    Raises :class:`UnreadablePage` naming the first body that cannot be read.
    """
    paths = [page_files(run.path, n)[0] for n in landed_numbers(run.path)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="raw-read") as pool:
        ahead: deque = deque()
        for path in paths:
            ahead.append(pool.submit(_read_body, path))
            if len(ahead) >= _READ_AHEAD:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _read_meta(path: Path) -> tuple[int, str, datetime]:
    try:
        meta = json.loads(path.read_bytes())
        return (
            int(meta["page"]),
            str(meta["request_path"]),
            datetime.fromisoformat(meta["received_at"]),
        )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UnreadablePage(path, _reason(exc)) from None


def _read_body(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadablePage(path, _reason(exc)) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
