"""Peak memory as the benchmarks measure it: the measured process's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.results import peak_mib


def test_a_child_of_a_large_process_reports_its_own_peak():
    held = bytearray(300 * 2**20)
    held[::4096] = b"\1" * len(held[::4096])  # touched, so resident
    assert peak_mib() >= 300
    child = "from benchmarks.results import peak_mib; print(peak_mib())"
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert 1 < float(out.stdout) < 200  # the interpreter and the results module
    del held
