"""A run's figures as rows and as markdown, for the terminal and the Prefect artifact."""

from __future__ import annotations

from flows.pipeline.run import RunSummary

COLUMNS = (
    "account",
    "resource",
    "outcome",
    "read",
    "inserted",
    "updated",
    "requests",
    "retries",
    "429s",
    "waited_s",
    "seconds",
)


def summary_rows(summary: RunSummary) -> list[dict[str, object]]:
    """One row per account and resource (an account refused at the start has one row)."""
    rows: list[dict[str, object]] = []
    for account in summary.accounts:
        if account.error and not account.resources:
            rows.append(
                {
                    "account": account.name,
                    "resource": "-",
                    "outcome": "failed",
                    "error": account.error,
                }
            )
        for r in account.resources:
            counts = r.counts.values()
            rows.append(
                {
                    "account": account.name,
                    "resource": r.resource,
                    "outcome": r.outcome,
                    "read": sum(c.read for c in counts),
                    "inserted": sum(c.inserted for c in counts),
                    "updated": sum(c.updated for c in counts),
                    "requests": r.stats.requests,
                    "retries": r.stats.retries,
                    "429s": r.stats.rate_limited,
                    "waited_s": round(r.stats.wait_seconds, 2),
                    "seconds": round(r.seconds, 2),
                    "error": r.error,
                }
            )
    return rows


def summary_markdown(summary: RunSummary) -> str:
    """The run log as a markdown table, with failures listed below it."""
    lines = [
        f"# t212-etl run {summary.run_id}: {summary.outcome}",
        "",
        f"Duration {summary.seconds:.1f}s.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    rows = summary_rows(summary)
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |" for row in rows]
    errors = summary.errors()
    if errors:
        lines += ["", "## Failures", ""] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"
