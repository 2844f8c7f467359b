"""The run log: runs and per-resource results, upserted and published to Parquet."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from tests.warehouse.conftest import T0, T1, dividend, rows_table
from warehouse import GLOBAL_ACCOUNT
from warehouse.merge import Load


def test_run_and_resource_rows_are_upserted_and_published(wh):
    wh.run_log.record_run("r1", started_at=T0, outcome="running", accounts=[2, 1])
    counts = wh.merge_resource(
        Load("dividends", 1, "r1", T0),
        {"dividends": rows_table("dividends", [dividend("a", "1")])},
        None,
    )
    wh.run_log.record_resource_result(
        "r1",
        1,
        "dividends",
        outcome="success",
        counts=counts,
        finished_at=T1,
        requests=3,
        retries=1,
        rate_limited=1,
        wait_seconds=2.5,
        duration_seconds=4.0,
    )
    wh.run_log.record_resource_result(
        "r1",
        GLOBAL_ACCOUNT,
        "instruments",
        outcome="failed",
        error="403: scope metadata",
    )
    wh.run_log.record_run(
        "r1",
        started_at=T0,
        finished_at=T1,
        outcome="partial",
        accounts=[1, 2],
        requests=3,
        retries=1,
        rate_limited=1,
        wait_seconds=2.5,
        duration_seconds=5.0,
    )
    wh.publish_parquet()
    runs = pq.read_table(wh.parquet_dir / "runs" / "data.parquet").to_pylist()
    assert len(runs) == 1
    assert (runs[0]["outcome"], runs[0]["finished_at"], runs[0]["requests"]) == ("partial", T1, 3)
    assert json.loads(runs[0]["accounts"]) == [1, 2]
    results = pq.read_table(wh.parquet_dir / "run_resources" / "data.parquet").to_pylist()
    by_resource = {r["resource"]: r for r in results}
    ok = by_resource["dividends"]
    assert json.loads(ok["rows_read"]) == {"dividends": 1}
    assert json.loads(ok["rows_inserted"]) == {"dividends": 1}
    assert json.loads(ok["rows_updated"]) == {"dividends": 0}
    assert (ok["requests"], ok["retries"], ok["rate_limited"], ok["wait_seconds"]) == (3, 1, 1, 2.5)
    failed = by_resource["instruments"]
    assert (failed["account_id"], failed["outcome"], failed["error"]) == (
        0,
        "failed",
        "403: scope metadata",
    )
    assert json.loads(failed["rows_read"]) == {}
    assert wh.check_parquet() == []


def test_a_run_log_is_written_at_once_and_a_repeated_key_keeps_its_last_row(wh):
    wh.run_log.record_run("r2", started_at=T0, outcome="running")
    rows = [
        (1, "dividends", {"outcome": "failed", "error": "first try"}),
        (1, "orders", {"outcome": "success", "requests": 4, "finished_at": T1}),
        (GLOBAL_ACCOUNT, "instruments", {"outcome": "skipped"}),
        (1, "dividends", {"outcome": "success", "requests": 2, "duration_seconds": 1.5}),
    ]
    wh.run_log.record_run_log(
        "r2", rows, started_at=T0, finished_at=T1, outcome="success", requests=6
    )
    wh.publish_parquet()
    (run,) = pq.read_table(wh.parquet_dir / "runs" / "data.parquet").to_pylist()
    assert (run["run_id"], run["outcome"], run["finished_at"], run["requests"]) == (
        "r2",
        "success",
        T1,
        6,
    )
    results = pq.read_table(wh.parquet_dir / "run_resources" / "data.parquet").to_pylist()
    by_key = {(r["account_id"], r["resource"]): r for r in results}
    assert len(results) == 3 == len(by_key)
    assert (by_key[1, "dividends"]["outcome"], by_key[1, "dividends"]["error"]) == ("success", None)
    assert by_key[1, "dividends"]["duration_seconds"] == 1.5
    assert (by_key[1, "orders"]["requests"], by_key[1, "orders"]["finished_at"]) == (4, T1)
    assert by_key[GLOBAL_ACCOUNT, "instruments"]["outcome"] == "skipped"
    assert wh.check_parquet() == []


def test_rate_limits_seen_are_kept_per_account_and_endpoint_the_latest_run_winning(wh):
    orders = "GET /api/v0/equity/history/orders"
    first = [(1, orders, (6, 60.0), (6, 60.0)), (2, orders, (6, 60.0), (6, 60.0))]
    wh.run_log.record_run_log("r1", [], first, started_at=T0, finished_at=T0, outcome="success")
    wh.run_log.record_run_log(
        "r2", [], [(1, orders, (50, 60.0), (6, 60.0))], started_at=T1, outcome="success"
    )
    rows = wh.connection.execute(
        "SELECT account_id, requests, period_seconds, documented_requests, run_id "
        "FROM rate_limits ORDER BY account_id"
    ).fetchall()
    assert rows == [(1, 50, 60.0, 6, "r2"), (2, 6, 60.0, 6, "r1")]
    wh.publish_parquet()
    assert not (wh.parquet_dir / "rate_limits").exists()  # internal, not published
