"""The commands of `t212-etl`: where each is implemented, its exit codes and its user error.

Each command is one function ``cmd_<name>(args) -> exit code`` that reads its parsed
arguments (``flows.app.parser``) and does the work; the modules group the commands by
what they touch, and are imported only when their command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

# command -> the module of this package that implements it
COMMANDS = {
    "run": "run",
    "demo": "demo",
    "sandbox": "demo",
    "serve": "serve",
    "sql": "readers",
    "status": "readers",
    "dashboard": "readers",
    "mcp": "readers",
    "export-to": "readers",
    "rebuild": "loads",
    "import-csv": "loads",
}


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function of the command ``name``, its module imported now."""
    module = importlib.import_module(f"{__name__}.{COMMANDS[name]}")
    return getattr(module, "cmd_" + name.replace("-", "_"))
