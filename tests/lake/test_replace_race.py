"""Two workers replacing a reference list at the same moment leave it whole, not doubled."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from warehouse.lake import Lake

ROWS = 11
# one worker process: its own list of exchanges, published whole at the moment the test
# names once both workers are ready (however long a busy machine took to start them)
_WORKER = """
import sys, time
import duckdb
from transforms.catalogue import TABLES
from warehouse.bookkeeping import SETTINGS
from warehouse.lake import Lake

url, worker = sys.argv[1], sys.argv[2]
table = TABLES["exchanges"]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(table.duckdb_ddl())
con.execute(SETTINGS.duckdb_ddl())  # where a commit notes what it made, as in a warehouse
con.execute(
    "INSERT INTO exchanges SELECT range, 'exchange ' || range, now(), ? FROM range(?)",
    [worker, int(sys.argv[3])],
)
lake = Lake(url)
lake.open_table("exchanges")  # the libraries loaded before the agreed moment
print("ready", flush=True)
at = float(sys.stdin.readline())
time.sleep(max(0.0, at - time.time()))
started = time.time()
lake.publish(con, table, ["*"])
print(started, time.time())  # when this worker's publication was in flight
"""
# Rounds until this many had both publications in flight at once (a loaded machine can
# start one worker after the other has finished; such a round proves nothing of the race).
OVERLAPPING = 3
MAX_ROUNDS = 8


def test_two_workers_replacing_a_list_at_once_leave_one_copy(storage_url):
    root = Path(__file__).parents[2]
    overlapping = 0
    for round_ in range(MAX_ROUNDS):
        url = f"{storage_url}/round-{round_}"
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, url, name, str(ROWS)],
                cwd=root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()[-2000:]
        at = time.time() + 0.5
        spans = []
        for worker in workers:
            worker.stdin.write(f"{at}\n")
            worker.stdin.flush()
        for worker in workers:
            out, err = worker.communicate(timeout=300)  # a guard against a hang only
            assert worker.returncode == 0, err[-2000:]
            spans.append([float(t) for t in out.split()])
        data = Lake(url).open_table("exchanges").to_pyarrow_table()
        assert data.num_rows == ROWS, f"round {round_}: {data.num_rows} rows"
        assert len(set(data.column("_run_id").to_pylist())) == 1
        overlapping += max(start for start, _ in spans) < min(end for _, end in spans)
        if overlapping == OVERLAPPING:
            break
    assert overlapping == OVERLAPPING, f"the publications overlapped in {overlapping} rounds"
