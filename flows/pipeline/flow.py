"""The Prefect flow `nightly_export`: thin tasks over the plain run functions, and its artifact."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline.account import AccountResult, failed_result
from flows.pipeline.context import Job
from flows.pipeline.resource import export_resource
from flows.pipeline.results import ResourceResult
from flows.pipeline.run import NOTHING_EXPORTED, AccountJob, RunOptions, RunSummary, run_export
from flows.pipeline.settings import load_settings
from flows.pipeline.summary import summary_markdown

# Retries live in the HTTP client only: Prefect must not multiply them.
_TASK_OPTIONS = {"cache_policy": NONE, "retries": 0, "persist_result": False}


@task(name="export-resource", task_run_name="{job.resource.name}", **_TASK_OPTIONS)
def export_resource_task(job: Job, **first) -> ResourceResult:
    """One resource of one account (a thin wrapper over ``export_resource``).

    A failure is returned, not raised: it is reported once, in one line, and the
    flow's final state names it.
    """
    logger = get_run_logger()
    resource = job.resource
    try:
        result = export_resource(job, **first)
    except Exception as exc:  # the account goes on with its other resources
        logger.debug("traceback of the failure", exc_info=True)
        result = failed_result(resource.name, job.account_id, exc, job.client.redactor)
        logger.error("%s failed: %s", resource.name, result.error)
        return result
    logger.info(
        "%s: %s, %d pages, %d requests, %.1fs waited for the rate limit",
        resource.name,
        result.outcome,
        result.pages,
        result.stats.requests,
        result.stats.wait_seconds,
    )
    return result


@task(name="export-account", task_run_name="account-{name}", **_TASK_OPTIONS)
def export_account_task(name: str, job: AccountJob) -> AccountResult:
    """One account's export; its resources run as ``export-resource`` tasks."""
    return job()


def run_in_tasks(jobs: Sequence[tuple[str, AccountJob]], limit: int) -> list[AccountResult]:
    """Submit every account as a task, at most ``limit`` running at once.

    The cap comes from the settings, read inside the run, so the flow cannot carry it in
    its decorator: the tasks go to a runner of their own, in the flow run's context.
    """
    with ThreadPoolTaskRunner(max_workers=max(1, min(limit, len(jobs)))) as runner:
        futures = [
            runner.submit(export_account_task, {"name": name, "job": job}) for name, job in jobs
        ]
        return [future.result() for future in futures]


@flow(name="nightly_export", retries=0, persist_result=False, validate_parameters=True)
def nightly_export(
    data_dir: str | None = None,
    config: str | None = None,
    accounts: list[str] | None = None,
    storage_url: str | None = None,
    only: list[str] | None = None,
    full_refresh: bool = False,
    lock_timeout: float = 0.0,
    with_reports: bool | None = None,
    time_limit_hours: float | None = None,
    backfill_reports: bool = False,
):
    """Export every configured account, refresh views, publish Parquet and the database.

    Parameters carry names only: credentials are read inside the run from their source.
    The final state is Failed when any account or resource failed (the rest is committed).
    """
    try:
        settings = load_settings(data_dir=data_dir, config=config, storage_url=storage_url)
        options = RunOptions(
            account_names=accounts,
            only=only,
            full_refresh=full_refresh,
            with_reports=with_reports,
            backfill_reports=backfill_reports,
            lock_timeout=lock_timeout,
            time_limit_hours=time_limit_hours,
        )
        summary = run_export(
            settings, options, runner=run_in_tasks, resource_runner=export_resource_task
        )
    except NOTHING_EXPORTED as exc:
        # Nothing was exported: a user error, reported in one line, not a crash.
        return Failed(data=exc, message=str(exc))
    create_markdown_artifact(
        key="t212-etl-run", markdown=summary_markdown(summary), description="t212-etl run log"
    )
    return final_state(summary)


def final_state(summary: RunSummary):
    """Completed with the summary, or Failed naming what failed (the summary still attached)."""
    if summary.exit_code == 0:
        return Completed(data=summary, message=f"run {summary.run_id}: success")
    return Failed(data=summary, message="; ".join(summary.errors())[:1000])
