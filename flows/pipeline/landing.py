"""Landing a resource's pages in the raw zone, exactly as received, before anything reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractors.client import ApiResponse
from warehouse import raw

# the raw zone's account folder for lists no account owns (reference lists)
SHARED_RAW_ACCOUNT = "shared"


@dataclass(frozen=True)
class Landing:
    """Where one run lands the pages of one resource: ``raw/<account>/<resource>/<run>``."""

    data_dir: Path
    account: str
    resource: str
    run_id: str
    started_at: datetime

    def page(self, number: int, page: ApiResponse) -> None:
        """Write one page to the raw zone exactly as received, before anything reads it."""
        raw.write_page(
            self.data_dir,
            raw.RunKey(self.account, self.resource, self.run_id, self.started_at),
            raw.RawPage(number, page.body, page.path, page.received_at),
        )

    def complete(self, pages: int) -> None:
        """Mark the run's pages complete; written before the merge commits, so a crash in
        between leaves landed pages that `rebuild` replays, never committed ones it skips."""
        raw.write_run_complete(
            self.data_dir,
            account=self.account,
            resource=self.resource,
            run_id=self.run_id,
            pages=pages,
        )
