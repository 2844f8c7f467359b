"""The sandbox in a process of its own, so serving pages does not share the client's interpreter.

A real server is another machine: generating its answers in the measured process would
charge the export for the server's work.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from sandbox import Sandbox, SandboxConfig


def _serve(config: SandboxConfig, conn: Any) -> None:
    with Sandbox(config) as sb:
        conn.send(sb.base_url)
        while True:
            command, argument = conn.recv()
            if command == "stop":
                return
            if command == "advance":
                conn.send(sb.advance(argument))
            elif command == "truth":
                conn.send(sb.truth(argument))
            elif command == "counts":
                conn.send(sb.request_counts(argument))
            elif command == "reset_counts":
                conn.send(sb.reset_counts())


class RemoteSandbox:
    """``with RemoteSandbox(config) as sb``: the Sandbox methods a benchmark needs."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.base_url = ""
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(config, child), daemon=True)

    def __enter__(self) -> RemoteSandbox:
        self._process.start()
        self.base_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send(("stop", None))
        self._process.join(timeout=10)

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def advance(self, days: int = 1) -> None:
        """Move the accounts' clock ahead."""
        self._ask("advance", days)

    def truth(self, account_id: int) -> dict:
        """Exact totals per resource of an account."""
        return self._ask("truth", account_id)

    def request_counts(self, account_id: int | None = None) -> dict[str, int]:
        """Requests answered per API path."""
        return self._ask("counts", account_id)

    def reset_counts(self) -> None:
        """Forget the request counts."""
        self._ask("reset_counts")
