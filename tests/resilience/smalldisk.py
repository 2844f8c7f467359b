"""A run on a filesystem just too small for it, then a run with room, in a namespace of its own.

``python -m tests.resilience.smalldisk SOURCE WORK BASE_URL SPARE`` mounts a tmpfs at
``WORK/disk`` with ``SPARE`` bytes free beyond a copy of the data directory ``SOURCE``,
runs an export there against the sandbox at ``BASE_URL`` and copies the data directory
out to ``WORK/full``; then it gives the filesystem room, runs again and copies it out to
``WORK/room``. Each run's exit code and errors go to ``WORK/outcomes.json``. It must run
inside ``unshare -rm`` (the mount is the namespace's alone); with ``--fsize`` it runs
anywhere, and the first run is limited by RLIMIT_FSIZE instead: a file may not grow
past its size plus ``SPARE``.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.flows.harness import export, settings_for

ROOM = 256 << 20
PAGE = 4096


def size_of(root: Path) -> int:
    """Bytes a copy of ``root`` takes on a tmpfs: whole pages per file."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(-(-p.stat().st_size // PAGE) * PAGE for p in files)


def mount(disk: Path, size: int, *, again: bool = False) -> None:
    """Mount a tmpfs of ``size`` bytes at ``disk``, or resize the one mounted there."""
    options = f"size={size},mode=0700" + (",remount" if again else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)], check=True)


def outcome(data_dir: Path, base_url: str) -> dict:
    """Run an export; its exit code and its errors, one per line."""
    summary = export(settings_for(SimpleNamespace(base_url=base_url), data_dir))
    return {"exit_code": summary.exit_code, "errors": summary.errors()}


def main(source: Path, work: Path, base_url: str, spare: int, fsize: bool) -> None:
    """See the module docstring."""
    disk = work / "disk"
    disk.mkdir(mode=0o700)
    if not fsize:
        mount(disk, size_of(source) + spare)
    data_dir = Path(shutil.copytree(source, disk / "data", symlinks=True))
    outcomes = {}
    if fsize:
        largest = max(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + spare, resource.RLIM_INFINITY))
    outcomes["full"] = outcome(data_dir, base_url)
    if fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    else:
        mount(disk, ROOM, again=True)
    shutil.copytree(data_dir, work / "full", symlinks=True)
    outcomes["room"] = outcome(data_dir, base_url)
    shutil.copytree(data_dir, work / "room", symlinks=True)
    (work / "outcomes.json").write_text(json.dumps(outcomes))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--fsize"]
    main(Path(args[0]), Path(args[1]), args[2], int(args[3]), "--fsize" in sys.argv)
