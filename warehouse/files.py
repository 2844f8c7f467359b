"""Private file helpers: owner-only permissions, atomic writes and safe path components."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from warehouse.crashpoints import crash_if_asked

DIR_MODE = 0o700
FILE_MODE = 0o600
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
TEMP_SUFFIX = ".tmp"
# The temporary names the writers below give the files they rename into place: a dot,
# the target's name, mkstemp's eight characters (atomic_path) or the writer's process and
# thread (write_quick), ".tmp". Only the targets this package writes are named.
_TARGETS = (
    r"warehouse\.duckdb|data\.parquet|run\.json|complete\.json|page-\d+\.(?:json\.gz|meta\.json)"
)
TEMP_NAME = re.compile(rf"\.(?:{_TARGETS})\.(?:[a-z0-9_]{{8}}|\d+-\d+)\.tmp")


def escape_component(name: object) -> str:
    """Encode ``name`` as one path component that can never leave its parent directory.

    Every byte outside ``[A-Za-z0-9_.-]`` of the UTF-8 form is percent-encoded, so
    separators, spaces and unicode become inert; ``.``, ``..`` and the empty name
    are refused because they would name the parent or the directory itself.
    """
    text = str(name)
    if text in ("", ".", ".."):
        raise ValueError(f"refusing path component {text!r}")
    return "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in text.encode("utf-8"))


def unescape_component(component: str) -> str:
    """Decode a component written by :func:`escape_component`."""
    out = bytearray()
    i = 0
    while i < len(component):
        if component[i] == "%":
            out.append(int(component[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(component[i].encode("ascii"))
            i += 1
    return out.decode("utf-8")


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as owner-only (0700) directories."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        # mkdir's mode is filtered by the umask; chmod is not.
        os.chmod(directory, DIR_MODE)
    return path


def secure_file(path: Path) -> None:
    """Make an existing file owner-only (0600); a missing file is ignored."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, FILE_MODE)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a rename or unlink) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def _rename_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` over ``target`` (a crash point); on error ``tmp`` is removed."""
    try:
        crash_if_asked("rename" + target.suffix)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def write_quick(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` by rename as a private file, without syncing it.

    The rename makes the file appear whole to any process; the caller syncs many such
    files at once (:func:`sync_files`). The directory must exist. The temporary name is
    the writer's own (process and thread), so no name has to be drawn.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}{TEMP_SUFFIX}")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)  # the umask may narrow the mode, never widen it
            f.write(data)
    except BaseException:
        _discard(tmp)
        raise
    _rename_into_place(tmp, target)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a private temporary path next to ``target``; on success it replaces ``target``.

    The caller writes the temporary file; it is then fsynced, renamed over the
    target and the directory fsynced. On error the temporary file is removed and
    the target is untouched. Temporary names start with a dot and end in
    ``.tmp`` so dataset readers globbing ``*.parquet`` never see them.
    """
    target = Path(target)
    ensure_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
    except BaseException:
        _discard(tmp)
        raise
    move_atomic(tmp, target)


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically as a private file."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def sync_files(directory: Path) -> None:
    """Flush every file of ``directory`` and the directory itself to disk."""
    for path in Path(directory).iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(directory)


def copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically as a private file."""
    with atomic_path(target) as tmp, open(source, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, length=1 << 20)


def move_atomic(source: Path, target: Path) -> None:
    """Make the finished file ``source`` private, sync it and rename it over ``target``.

    Both must be on one filesystem. On error ``source`` is removed and ``target`` is
    untouched.
    """
    try:
        secure_file(source)
        with open(source, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        _discard(source)
        raise
    _rename_into_place(source, target)
    fsync_dir(target.parent)


def remove_file(path: Path, stop_at: Path) -> bool:
    """Delete ``path`` if present, then any directories it leaves empty below ``stop_at``."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    parent = path.parent
    while parent != Path(stop_at) and Path(stop_at) in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return True


class WarehouseLocked(RuntimeError):
    """Another process holds the run lock of this data directory."""


def take_lock(path: Path, timeout: float) -> int:
    """Take an exclusive lock on ``path`` (created 0600), waiting up to ``timeout`` seconds.

    The file's modification time is set to the moment the lock was taken: files the
    holder finds older than that were written by processes that no longer run.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    secure_file(path)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.utime(fd)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WarehouseLocked(
                    f"another t212-etl run is using {path.parent.parent} "
                    f"(lock {path} still held after {timeout:g}s)"
                ) from None
            time.sleep(0.05)
