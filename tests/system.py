"""What some tests take from the machine (Chromium, Node.js, the Evidence project's npm
packages), which CI may still be installing while the suite starts: a test that needs one
waits for its install only.

``python3 -m tests.system evidence`` installs the Evidence project's packages as its test
would (CI starts it before the suite, beside the Python install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Set by .ci/run: what it is installing in the background (Debian packages, and
# ``evidence`` for bi/evidence's npm packages), the folder where a file named after each
# gets the exit code of its install once that has ended, and the installs' log.
INSTALLING = "TEST_SYSTEM_INSTALLING"
INSTALLED = "TEST_SYSTEM_INSTALLED"
INSTALL_LOG = "TEST_SYSTEM_INSTALL_LOG"
INSTALL_WAIT = 900  # seconds: Chromium and its libraries on a slow mirror
EVIDENCE = Path(__file__).resolve().parents[1] / "bi" / "evidence"
NPM_CI = (
    "npm",
    "ci",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--ignore-scripts",
    "--loglevel=error",
)


class InstallFailed(RuntimeError):
    """CI's install of something a test needs failed or did not end in time."""


def installing(name: str) -> bool:
    """Whether CI is installing ``name`` (a Debian package, or ``evidence``) right now or
    was when the suite started."""
    return name in os.environ.get(INSTALLING, "").split()


def system_program(program: str, package: str, *, timeout: float = INSTALL_WAIT) -> str | None:
    """The path of ``program`` on PATH, or None; when CI is installing its Debian
    ``package``, only once that install has ended (a half-installed one is never run)."""
    if installing(package):
        wait_for_install(package, timeout)
    return shutil.which(program)


def wait_for_install(name: str, timeout: float = INSTALL_WAIT) -> None:
    """Return once CI's install of ``name`` has ended well; raise :class:`InstallFailed`
    when it failed or is still running after ``timeout`` seconds."""
    marker = Path(os.environ[INSTALLED]) / name
    log = os.environ.get(INSTALL_LOG, "the CI log")
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if time.monotonic() > deadline:
            raise InstallFailed(f"{name} was still installing after {timeout} s: see {log}")
        time.sleep(0.2)
    code = marker.read_text().strip()
    if code != "0":
        raise InstallFailed(f"installing {name} failed (exit {code}): see {log}")


if __name__ == "__main__":
    if sys.argv[1:] != ["evidence"]:
        sys.exit("usage: python3 -m tests.system evidence")
    sys.exit(subprocess.run(NPM_CI, cwd=EVIDENCE, check=False).returncode)
