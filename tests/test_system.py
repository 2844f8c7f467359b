"""tests/system.py: a test waits for CI's install of what it needs, and only for that."""

from __future__ import annotations

import threading

import pytest

from tests.system import (
    INSTALL_LOG,
    INSTALLED,
    INSTALLING,
    InstallFailed,
    system_program,
    wait_for_install,
)


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """CI installing chromium, Node.js and the Evidence packages in the background; returns
    the folder where each install's exit code lands."""
    folder = tmp_path / "installed"
    folder.mkdir()
    monkeypatch.setenv(INSTALLING, "chromium nodejs npm evidence")
    monkeypatch.setenv(INSTALLED, str(folder))
    monkeypatch.setenv(INSTALL_LOG, str(tmp_path / "install.log"))
    return folder


def test_a_program_not_being_installed_is_looked_up_at_once(installed):
    assert system_program("sh", "coreutils", timeout=0) is not None


def test_a_program_being_installed_is_looked_up_once_its_install_ends(installed):
    (installed / "npm").write_text("1\n")  # another install's failure is not this one's
    threading.Timer(0.3, (installed / "chromium").write_text, args=("0\n",)).start()
    assert system_program("sh", "chromium", timeout=30) is not None
    assert (installed / "chromium").exists()


def test_a_failed_install_fails_with_its_code_and_log(installed):
    (installed / "evidence").write_text("100\n")
    with pytest.raises(InstallFailed, match=r"evidence failed \(exit 100\): see .*install\.log"):
        wait_for_install("evidence", timeout=1)


def test_an_install_still_running_fails_after_the_timeout(installed):
    with pytest.raises(InstallFailed, match=r"nodejs was still installing after 0\.3 s"):
        system_program("sh", "nodejs", timeout=0.3)
