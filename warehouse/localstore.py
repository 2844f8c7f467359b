"""Conditional writes in a ``file://`` store: compare-and-swap under a lock file.

A local directory has no conditional put of its own, so every conditional write of an
object (create if absent, replace if unchanged) holds an exclusive ``flock`` on the
``.lock`` file of the object's folder while it compares and writes; the new content is
renamed into place, so readers see the old object or the new one. Of two processes
racing for one object exactly one wins, on one machine or on a shared disk whose
locks reach every client (NFSv4, SMB). An object's version is the SHA-256 of its
bytes: a lease never repeats its bytes, so a version never comes back (no ABA).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from warehouse.files import DIR_MODE, FILE_MODE, ensure_dir, write_atomic

LOCK_NAME = ".lock"


def version_of(data: bytes) -> dict[str, str]:
    """The version of an object holding ``data`` (the shape of an obstore update mode)."""
    return {"e_tag": hashlib.sha256(data).hexdigest()}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``path``'s folder for the block."""
    folder = ensure_dir(path.parent)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def create(path: Path, data: bytes) -> dict[str, str] | None:
    """Write ``data`` to ``path`` only if absent; its version, or None when it exists."""
    with _locked(path):
        if path.exists():
            return None
        write_atomic(path, data)
    return version_of(data)


def replace(path: Path, data: bytes, version: dict[str, str]) -> dict[str, str] | None:
    """Replace ``path`` only if it is still at ``version``; the new version, or None."""
    with _locked(path):
        current = _read(path)
        if current is None or version_of(current) != version:
            return None
        write_atomic(path, data)
    return version_of(data)


def read(path: Path) -> tuple[bytes, dict[str, str], datetime] | None:
    """The bytes at ``path``, their version and modification time, or None when absent."""
    with _locked(path):
        current = _read(path)
        if current is None:
            return None
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return current, version_of(current), modified


def now(folder: Path) -> datetime:
    """The clock of the file system under ``folder``: the modification time of a new file."""
    probe = ensure_dir(folder) / f".clock-{uuid.uuid4().hex}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        return datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
    finally:
        os.close(fd)
        probe.unlink()


def private_files(root: Path) -> None:
    """Make everything under a ``file://`` root owner-only, now and from here on.

    obstore and Delta create their files themselves, with the process umask: a umask of
    077 is the only way their files are 0600 (folders 0700) from their first byte, and
    every file this program writes is private anyway, so it is set for the whole process.
    What an earlier version left wider under the root is narrowed once, here.
    """
    os.umask(0o077)
    for folder, dirs, files in os.walk(root):
        for name, mode in [(d, DIR_MODE) for d in dirs] + [(f, FILE_MODE) for f in files]:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError, PermissionError):  # gone, or not ours
                found = os.lstat(path).st_mode
                if not stat.S_ISLNK(found) and stat.S_IMODE(found) != mode:
                    os.chmod(path, mode)
    with contextlib.suppress(PermissionError):
        os.chmod(root, DIR_MODE)
