"""Named crash points for the crash-safety tests: a no-op unless T212_ETL_CRASH_AT names one.

``T212_ETL_CRASH_AT=commit:3`` kills the process with SIGKILL the third time it reaches
the point ``commit``, as a power cut would; nothing is flushed, nothing cleaned up.
"""

from __future__ import annotations

import os
import signal

ENV = "T212_ETL_CRASH_AT"
_reached: dict[str, int] = {}


def crash_if_asked(point: str) -> None:
    """Die here if the environment asks for a crash at the n-th arrival at ``point``."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
