"""Where a resource's walk stops and what it stores: history watermarks, reference freshness."""

from __future__ import annotations

from datetime import datetime

from extractors.extraction import parse_time
from flows.pipeline.context import RunContext


def advance_cursor(
    newest: datetime | None, state: dict | None, *, not_after: datetime | None = None
) -> dict | None:
    """The history cursor after items as new as ``newest``: it never moves back, and
    never past ``not_after`` (the run's start), whatever an earlier run stored."""
    old = parse_time(((state or {}).get("cursor") or {}).get("watermark"))
    newest = max([t for t in (newest, old) if t], default=None)
    if newest is not None and not_after is not None:
        newest = min(newest, not_after)
    return {"watermark": newest.isoformat()} if newest else None


def stored_watermark(state: dict | None, ctx: RunContext) -> datetime | None:
    """Where an incremental walk may stop: the stored watermark, never past this run's
    start (a watermark poisoned by an earlier version is capped); None to read it all."""
    if ctx.full_refresh or not state or not state.get("cursor"):
        return None
    watermark = parse_time(state["cursor"].get("watermark"))
    return min(watermark, ctx.started_at) if watermark else None


def is_fresh(state: dict | None, ctx: RunContext) -> bool:
    """True when a reference list was loaded recently enough to skip it."""
    if ctx.full_refresh or not state or not state.get("last_success_at"):
        return False
    last = state["last_success_at"]
    last = last if isinstance(last, datetime) else parse_time(str(last))
    return last is not None and ctx.started_at - last < ctx.reference_max_age
