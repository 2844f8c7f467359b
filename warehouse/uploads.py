"""Copies of local files in the object store: the raw zone's runs and the published database.

The raw zone is landed on the local disk first (a page must be safe the moment it
arrives, and a local write costs no request); each complete run is then copied to the
store as two objects under ``raw/<account>/<resource>/<run>/``: ``pages.gz``, its pages
in one batch, then ``manifest.json`` (see ``rawbatch``), so a copy in the store is whole
when its manifest is there. A marker beside the local run records the copy. Runs copied
by earlier versions, a file per local file with ``complete.json`` last, still download.
The published database goes to ``duckdb/<name>.duckdb`` in one upload, which readers
see old or new, never in part, with its SHA-256 beside it, so an unchanged database is
not sent again; a worker whose disk is empty starts from it. The name is recorded beside
the working database, so every command on a data directory uses it.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from warehouse import rawbatch
from warehouse.files import ensure_dir, escape_component, write_atomic
from warehouse.objectstore import ObjectStore

RAW_PREFIX = "raw"
DATABASE_PREFIX = "duckdb"
UPLOADED_MARKER = ".uploaded"
_COMPLETE = "complete.json"  # the last object of a run copied by earlier versions
BATCH = "pages.gz"
MANIFEST = "manifest.json"
DIGEST_SUFFIX = ".sha256"
# Runs copied at once. A run is two requests, one after the other, so latency, not
# bandwidth, bounds a run's copy: four in flight take a run's eight resources in two
# rounds of round trips, while at most four batches (the largest a few MiB) are read at
# once and the machine's cores are left to the export. Old-layout downloads, a request
# per page, fetch 16 files at once.
_PARALLEL_RUNS = 4
_PARALLEL_FILES = 16
WORKER_FILE = "worker"  # in the working directory: the name of the worker's database
_WORKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}")


def database_key(name: str) -> str:
    """Where the published database of the worker called ``name`` lives in the store."""
    return f"{DATABASE_PREFIX}/{name}.duckdb"


def record_worker(work_dir: Path, name: str) -> None:
    """Record, in the working directory ``work_dir``, the name of the worker's database."""
    path = Path(work_dir) / WORKER_FILE
    if recorded_worker(work_dir) != name:
        write_atomic(path, name.encode())


def recorded_worker(work_dir: Path) -> str | None:
    """The name :func:`record_worker` recorded, or None (none, or not a name of ours)."""
    try:
        name = (Path(work_dir) / WORKER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _WORKER_NAME.fullmatch(name) else None


def upload_database(store: ObjectStore, path: Path, name: str, source: Path | None = None) -> bool:
    """Upload the published database file unless the store has it already; True when sent.

    ``source`` is the closed working database ``path`` was copied from: a copy's bytes
    differ from one copy to the next (DuckDB writes blocks in parallel), the source's do
    not, so its digest (the file's own without one) says whether anything changed. The
    digest recorded beside the object after its last upload is compared with it: one
    small read instead of the whole database. The digest goes up after the database, so
    a failure between the two sends the database again, never skips it.
    """
    key = database_key(name)
    digest = _sha256(source or path).encode()
    if store.get_bytes(key + DIGEST_SUFFIX) == digest:
        return False
    store.put_file(key, path)
    store.put_bytes(key + DIGEST_SUFFIX, digest)
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def restore_database(store: ObjectStore, target: Path, name: str) -> bool:
    """Download the worker's published database to ``target``; False when the store has none."""
    return store.get_file(database_key(name), target)


def _runs_to_copy(raw_dir: Path) -> Iterator[Path]:
    for complete in sorted(Path(raw_dir).glob(f"*/*/*/{_COMPLETE}")):
        run = complete.parent
        if not (run / UPLOADED_MARKER).exists():
            yield run


def upload_raw(store: ObjectStore, raw_dir: Path) -> int:
    """Copy every complete raw run not copied yet; returns how many runs were copied."""
    runs = list(_runs_to_copy(raw_dir))
    with ThreadPoolExecutor(max_workers=_PARALLEL_RUNS, thread_name_prefix="raw-up") as pool:
        list(pool.map(partial(_upload_run, store, Path(raw_dir)), runs))
    return len(runs)


def _upload_run(store: ObjectStore, raw_dir: Path, run: Path) -> None:
    """Copy one run: its batch (none for a run of no pages), then its manifest, then mark it."""
    key = f"{RAW_PREFIX}/{run.relative_to(raw_dir).as_posix()}"
    with tempfile.TemporaryFile(dir=run) as batch:
        manifest = rawbatch.pack(run, batch)
        if manifest["pages"]:
            batch.seek(0)
            store.put_reader(f"{key}/{BATCH}", batch)
    store.put_bytes(f"{key}/{MANIFEST}", rawbatch.encode(manifest))
    write_atomic(run / UPLOADED_MARKER, b"")


def download_raw(store: ObjectStore, raw_dir: Path) -> int:
    """Fetch every complete run the store has and the local raw zone lacks; returns how many.

    A fresh machine rebuilds from the lake this way. Each run's files land before its
    ``complete.json``, so an interrupted download is fetched again, whole, next time.
    """
    runs: dict[str, set[str]] = {}
    for key in store.list(f"{RAW_PREFIX}/"):
        run, _, name = key.removeprefix(f"{RAW_PREFIX}/").rpartition("/")
        if run.count("/") == 2 and all(_safe(p) for p in (*run.split("/"), name)):
            runs.setdefault(run, set()).add(name)
    wanted = [
        (run, names)
        for run, names in sorted(runs.items())
        if names & {MANIFEST, _COMPLETE} and not (Path(raw_dir) / run / _COMPLETE).exists()
    ]
    with ThreadPoolExecutor(max_workers=_PARALLEL_RUNS, thread_name_prefix="raw-down") as pool:
        list(pool.map(lambda item: _download_run(store, Path(raw_dir), *item), wanted))
    return len(wanted)


def _download_run(store: ObjectStore, raw_dir: Path, run: str, names: set[str]) -> None:
    """Land one run copied to the store, as a batch or (earlier versions) file by file."""
    prefix, local = f"{RAW_PREFIX}/{run}", Path(raw_dir) / run
    if MANIFEST not in names:
        _download_files(store, prefix, ensure_dir(local), sorted(names))
    else:
        try:
            manifest = rawbatch.decode(_get(store, f"{prefix}/{MANIFEST}"))
            batch = _get(store, f"{prefix}/{BATCH}") if manifest["pages"] else b""
            rawbatch.unpack(manifest, batch, local)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{store.url}/{prefix}: {exc}; copy the run again from the data directory "
                f"that landed it (remove its {UPLOADED_MARKER} there and run again)"
            ) from None
    write_atomic(local / UPLOADED_MARKER, b"")


def _download_files(store: ObjectStore, prefix: str, local: Path, names: list[str]) -> None:
    """Land a run copied a file per local file: every file, then ``complete.json``."""
    files = [n for n in names if n != _COMPLETE]
    with ThreadPoolExecutor(max_workers=_PARALLEL_FILES) as pool:
        list(pool.map(lambda name: _fetch(store, prefix, local, name), files))
    _fetch(store, prefix, local, _COMPLETE)


def _safe(component: str) -> bool:
    """A key component that names a file of ours, never a way out of the raw zone."""
    try:
        return escape_component(component) == component
    except ValueError:
        return False


def _fetch(store: ObjectStore, prefix: str, local: Path, name: str) -> None:
    if not store.get_file(f"{prefix}/{name}", local / name):
        raise FileNotFoundError(f"{store.url}/{prefix}/{name} vanished while it was copied")


def _get(store: ObjectStore, key: str) -> bytes:
    data = store.get_bytes(key)
    if data is None:
        raise FileNotFoundError(f"{store.url}/{key} vanished while it was copied")
    return data


def raw_accounts(raw_dir: Path) -> list[int]:
    """The accounts (not the reference lists' account 0) the local raw zone holds runs of."""
    found = []
    for path in Path(raw_dir).glob("*"):
        if path.is_dir() and path.name.isdigit() and int(path.name) != 0:
            found.append(int(path.name))
    return sorted(found)
