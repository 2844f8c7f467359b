"""Exchanges and the time events of their working schedules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, apply_mapping, unknown_fields

EXCHANGES = Mapping("exchanges", (("id", "exchange_id"), "name"), known=("workingSchedules",))

# rows built per time event as {"exchange": ..., "schedule": ..., "event": ...}
SCHEDULE_EVENTS = Mapping(
    "working_schedule_events",
    (
        ("schedule.id", "working_schedule_id"),
        ("event.date", "event_at"),
        ("event.type", "event_type"),
        ("exchange.id", "exchange_id"),
    ),
)
SCHEDULE_FIELDS = {"id", "timeEvents"}
EVENT_FIELDS = {"date", "type"}


def normalise_exchanges(records: Sequence[Any]) -> Normalised:
    """Exchange records -> ``exchanges`` and ``working_schedule_events`` (with exchange_id)."""
    exchanges, problems, valid = apply_mapping(records, EXCHANGES)
    rows, origin, schedules = [], [], []
    for i, record in enumerate(records):
        if not valid[i]:
            continue
        listed = record.get("workingSchedules") or []
        if type(listed) is not list:
            problems.append(f"exchanges: record {i} working schedules skipped: not a list")
            continue
        for schedule in listed:
            events = (schedule.get("timeEvents") or []) if type(schedule) is dict else None
            if type(events) is not list:
                problems.append(f"exchanges: record {i} a working schedule skipped: malformed")
                continue
            schedules.append(schedule)
            exchange = {"id": record["id"]}
            rows += [{"exchange": exchange, "schedule": schedule, "event": e} for e in events]
            origin += [i] * len(events)
    events_frame, event_problems, _ = apply_mapping(rows, SCHEDULE_EVENTS, origin=origin)
    unknown = unknown_fields(records, EXCHANGES.known_paths())
    unknown |= unknown_fields(schedules, SCHEDULE_FIELDS, "workingSchedules.")
    unknown |= unknown_fields(
        [r["event"] for r in rows], EVENT_FIELDS, "workingSchedules.timeEvents."
    )
    frames = {"exchanges": exchanges, "working_schedule_events": events_frame}
    return Normalised(frames, unknown, problems + event_problems)


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the exchange list (shared by accounts)."""
    return normalise_exchanges(records)
