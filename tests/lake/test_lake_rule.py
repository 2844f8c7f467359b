"""The lake's rule as a state machine: runs, imports, rebuilds, workers, groups, wiped disks.

Every row ever published for an account stays in the lake: a history row may only be
replaced by a newer state of itself (a later ``_loaded_at``), a snapshot row never
changes. Everything runs in this process against a ``file://`` store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from flows.pipeline.imports import import_reports
from flows.pipeline.rebuild import rebuild
from flows.pipeline.storage import publisher_for
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID, Sandbox
from tests.flows.harness import export, settings_for
from tests.lake.checks import lake_reader, tiny_sandbox_config
from warehouse.bookkeeping import MERGED_KINDS
from warehouse.catchup import caught_up_tables

ACCOUNTS = {"invest": DEMO_ACCOUNT_ID, "isa": DEMO_ISA_ACCOUNT_ID}
GROUPS = [("invest",), ("isa",), ("invest", "isa")]
WORKERS = ["w1", "w2", "w3"]
ONLY = [None, ["positions", "account_summary"], ["orders", "pending_orders"]]
assert {t.kind for t in caught_up_tables()} == set(MERGED_KINDS)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(tiny_sandbox_config()) as sb:
        yield sb


def lake_rows(sb: Sandbox, url: str) -> dict[tuple, tuple]:
    """Every snapshot and history row of the lake: (table, key) -> (loaded at, row)."""
    lake = publisher_for(settings_for(sb, Path("."), tuple(ACCOUNTS), storage_url=url)).lake
    con = lake_reader(lake)
    found = {}
    try:
        for table in caught_up_tables():
            names = table.column_names
            rows = con.execute(f'SELECT * FROM "{table.name}"').fetchall()
            for row in rows:
                key = (table.name, *(row[names.index(k)] for k in table.key))
                values = tuple(v for n, v in zip(names, row, strict=True) if n != "_run_id")
                found[key] = (row[names.index("_loaded_at")], values, table.kind)
    finally:
        con.close()
    return found


class LakeRule(RuleBasedStateMachine):
    """Workers (data directories) taking turns on one lake."""

    sb: Sandbox

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="lake-rule-"))
        self.url = f"file://{self.root / 'store'}"
        self.seen: dict[tuple, tuple] = {}
        self.imported = 0

    def settings(self, worker: str):
        return settings_for(self.sb, self.root / worker, tuple(ACCOUNTS), storage_url=self.url)

    @rule(
        worker=st.sampled_from(WORKERS), group=st.sampled_from(GROUPS), only=st.sampled_from(ONLY)
    )
    def run(self, worker, group, only):
        summary = export(self.settings(worker), account_names=list(group), only=only)
        assert summary.exit_code == 0, summary.errors()

    @rule(
        worker=st.sampled_from(WORKERS),
        account=st.sampled_from(sorted(ACCOUNTS.values())),
        days=st.sets(st.integers(1, 28), min_size=1, max_size=4),
    )
    def import_csv(self, worker, account, days):
        self.imported += 1
        path = self.root / f"report-{self.imported}.csv"
        lines = ["Action,Time (UTC),ID,Total,Currency (Total)"]
        lines += [f"Deposit,2024-02-{d:02d}T09:00:00Z,D{account}-{d},{d}.50,EUR" for d in days]
        path.write_text("\n".join(lines) + "\n")
        settings = self.settings(worker)
        import_reports(
            settings.data_dir, [path], account_id=account, publisher=publisher_for(settings)
        )

    @rule(worker=st.sampled_from(WORKERS))
    def rebuild_from_the_store(self, worker):
        settings = self.settings(worker)
        rebuild(settings.data_dir, publisher=publisher_for(settings))

    @rule(worker=st.sampled_from(WORKERS))
    def wipe_the_disk(self, worker):
        shutil.rmtree(self.root / worker, ignore_errors=True)

    @invariant()
    def no_published_row_is_lost_or_made_older(self):
        now = lake_rows(self.sb, self.url) if (self.root / "store").exists() else {}
        for key, (loaded_at, values, kind) in self.seen.items():
            assert key in now, f"{key} left the lake"
            if kind == "snapshot":
                assert now[key][1] == values, f"snapshot row {key} changed"
            else:
                assert now[key][0] >= loaded_at, f"{key} replaced by an older state"
        self.seen = now

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.slow  # Hypothesis over lake runs
def test_every_published_row_stays_until_its_account_writes_a_newer_state(sandbox):
    LakeRule.sb = sandbox
    run_state_machine_as_test(
        LakeRule,
        settings=settings(
            max_examples=3,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
