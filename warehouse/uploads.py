"""Copies of local files in the object store: the raw zone's runs and the published database.

The raw zone is landed on the local disk first (a page must be safe the moment it
arrives, and a local write costs no request); each complete run is then copied under
``raw/`` in the store with the same layout, its ``complete.json`` last, so a copy in the
store is whole when that file is there. A marker beside the local run records the copy.
The published database goes to ``duckdb/<name>.duckdb`` in one upload, which readers
see old or new, never in part; a worker whose disk is empty starts from it. The name is
recorded beside the working database, so every command on a data directory uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from warehouse.files import ensure_dir, escape_component, write_atomic
from warehouse.objectstore import ObjectStore

RAW_PREFIX = "raw"
DATABASE_PREFIX = "duckdb"
UPLOADED_MARKER = ".uploaded"
_COMPLETE = "complete.json"
_PARALLEL = 16  # uploads at once: each waits on the network, not on this machine
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


def upload_database(store: ObjectStore, path: Path, name: str) -> None:
    """Upload the published database file."""
    store.put_file(database_key(name), path)


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
    if not runs:
        return 0
    with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
        for run in runs:
            key = f"{RAW_PREFIX}/{run.relative_to(raw_dir).as_posix()}"
            files = [f for f in sorted(run.iterdir()) if f.name not in (_COMPLETE, UPLOADED_MARKER)]
            list(pool.map(lambda f, key=key: store.put_file(f"{key}/{f.name}", f), files))
            store.put_file(f"{key}/{_COMPLETE}", run / _COMPLETE)
            write_atomic(run / UPLOADED_MARKER, b"")
    return len(runs)


def download_raw(store: ObjectStore, raw_dir: Path) -> int:
    """Fetch every complete run the store has and the local raw zone lacks; returns how many.

    A fresh machine rebuilds from the lake this way. Each run's files land before its
    ``complete.json``, so an interrupted download is fetched again, whole, next time.
    """
    runs: dict[str, list[str]] = {}
    for key in store.list(f"{RAW_PREFIX}/"):
        run, _, name = key.removeprefix(f"{RAW_PREFIX}/").rpartition("/")
        if run.count("/") == 2 and all(_safe(p) for p in (*run.split("/"), name)):
            runs.setdefault(run, []).append(name)
    wanted = [
        (run, names)
        for run, names in sorted(runs.items())
        if _COMPLETE in names and not (Path(raw_dir) / run / _COMPLETE).exists()
    ]
    with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
        for run, names in wanted:
            local = ensure_dir(Path(raw_dir) / run)
            files = [n for n in names if n != _COMPLETE]
            fetch = partial(_fetch, store, f"{RAW_PREFIX}/{run}", local)
            list(pool.map(fetch, files))
            fetch(_COMPLETE)
            write_atomic(local / UPLOADED_MARKER, b"")
    return len(wanted)


def _safe(component: str) -> bool:
    """A key component that names a file of ours, never a way out of the raw zone."""
    try:
        return escape_component(component) == component
    except ValueError:
        return False


def _fetch(store: ObjectStore, prefix: str, local: Path, name: str) -> None:
    if not store.get_file(f"{prefix}/{name}", local / name):
        raise FileNotFoundError(f"{store.url}/{prefix}/{name} vanished while it was copied")


def raw_accounts(raw_dir: Path) -> list[int]:
    """The accounts (not the reference lists' account 0) the local raw zone holds runs of."""
    found = []
    for path in Path(raw_dir).glob("*"):
        if path.is_dir() and path.name.isdigit() and int(path.name) != 0:
            found.append(int(path.name))
    return sorted(found)
