"""The nightly deployment: served by this process, or registered on a Prefect work pool."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEPLOYMENT_NAME = "t212-etl-nightly"
ENTRYPOINT = "flows/pipeline/flow.py:nightly_export"


def local_timezone() -> str:
    """The IANA name of the local time zone (UTC when it cannot be told)."""
    if os.environ.get("TZ"):
        return os.environ["TZ"].lstrip(":")
    try:
        return os.path.realpath("/etc/localtime").split("zoneinfo/", 1)[1]
    except (OSError, IndexError):
        return "UTC"


@dataclass(frozen=True)
class Nightly:
    """A nightly deployment: its schedule (``cron`` in ``timezone``, the local zone when
    None), its flow parameters (names only) and its name."""

    cron: str
    timezone: str | None
    parameters: dict
    name: str = DEPLOYMENT_NAME

    def schedule(self):
        """The Prefect schedule of the nightly run."""
        from prefect.schedules import Cron

        return Cron(self.cron, timezone=self.timezone or local_timezone())


def deploy_to_pool(nightly: Nightly, pool: str, source: str | Path) -> str:
    """Register the nightly deployment on work pool ``pool``; returns its id.

    ``source`` is where workers find this code: a checkout path on their machine or a
    git URL. Parameters carry names only; workers read the secrets from their source.
    """
    from flows.pipeline.flow import nightly_export

    remote = nightly_export.from_source(source=str(source), entrypoint=ENTRYPOINT)
    deployment_id = remote.deploy(
        name=nightly.name,
        work_pool_name=pool,
        schedules=[nightly.schedule()],
        parameters=nightly.parameters,
        build=False,
        push=False,
        print_next_steps=False,
    )
    return str(deployment_id)


def serve_here(nightly: Nightly) -> None:
    """Serve the nightly schedule from this process until it is stopped."""
    from flows.pipeline.flow import nightly_export

    nightly_export.serve(
        name=nightly.name, schedules=[nightly.schedule()], parameters=nightly.parameters
    )
