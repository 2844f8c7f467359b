"""`t212-etl serve`: the nightly schedule with Prefect, served here or registered on a work
pool, one deployment per group of accounts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from flows.pipeline.settings import SettingsError, load_settings


def deployment_parameters(settings, args: argparse.Namespace) -> tuple[dict, str]:
    """The deployment's parameters (names only) and its name.

    A deployment of a group of accounts (``--account``) is named after the group and
    keeps its working database in a directory of its own under the data directory, so
    the groups' flow runs can run at once on one worker machine.
    """
    from flows.app.deployment import DEPLOYMENT_NAME
    from flows.pipeline.storage import ALL_ACCOUNTS, worker_name

    group = worker_name(settings, args.account)
    data_dir = settings.data_dir.resolve()
    parameters = {"data_dir": str(data_dir), "config": args.config}
    if settings.storage_url:
        parameters["storage_url"] = settings.storage_url
    if group == ALL_ACCOUNTS:
        return parameters, DEPLOYMENT_NAME
    parameters.update(data_dir=str(data_dir / "groups" / group), accounts=sorted(args.account))
    return parameters, f"{DEPLOYMENT_NAME}-{group}"


def cmd_serve(args: argparse.Namespace) -> int:
    """The nightly schedule, served here or registered on a work pool."""
    from flows.app.deployment import Nightly, deploy_to_pool, local_timezone, serve_here

    settings = load_settings(
        data_dir=args.data_dir, config=args.config, storage_url=args.storage_url
    )
    for account in args.account or []:
        settings.account(account)  # an unknown name fails here, not at night
    if not os.environ.get("PREFECT_API_URL"):
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            raise SettingsError(
                "serve needs a Prefect server: start one with `prefect server start`, then "
                "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` (or use cron: "
                "`30 2 * * * t212-etl run`, see docs/configuration.md)"
            )
    parameters, name = deployment_parameters(settings, args)
    timezone = args.timezone or local_timezone()
    nightly = Nightly(args.cron, timezone, parameters, name)
    if args.pool:
        deployment_id = deploy_to_pool(nightly, args.pool, args.source or Path.cwd())
        print(
            f"deployment nightly_export/{name} ({deployment_id}) registered on work "
            f"pool {args.pool}: cron '{args.cron}' in {timezone}; start a worker with "
            f"`prefect worker start --pool {args.pool}`"
        )
        return 0
    print(f"serving nightly_export/{name}: cron '{args.cron}' in {timezone}; Ctrl-C stops")
    serve_here(nightly)
    return 0
