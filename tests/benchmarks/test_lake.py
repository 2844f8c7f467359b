"""The object-storage benchmark's request counting: moto's access log read by kind and area."""

from __future__ import annotations

from benchmarks.lake import written
from benchmarks.s3server import BUCKET, Moto, area, parse


def test_access_log_lines_are_read_by_kind_and_area():
    line = '127.0.0.1 - - [29/Nov/2026 22:07:50] "{} HTTP/1.1" {} -'
    log = f"/{BUCKET}/lake/1/tables/orders/_delta_log/00000000000000000003.json"
    listing = f"/{BUCKET}?list-type=2&prefix=lake%2F1%2Ftables%2Forders%2F_delta_log%2F"
    found = [
        parse(line.format(f"PUT {log}", 200)),
        parse(line.format(f"GET {listing}", 200)),
        parse(line.format(f"GET /{BUCKET}/lake/1/raw/21400001/orders/run/page-1.json", 200)),
        parse(line.format(f"HEAD /{BUCKET}/lake/1/leases/21400001.json", 404)),
        parse(line.format(f"POST /{BUCKET}?delete", 200)),
    ]
    assert [(r.kind, r.area, r.status) for r in found if r] == [
        ("PUT", "delta log", 200),
        ("LIST", "delta log", 200),
        ("GET", "raw runs", 200),
        ("HEAD", "leases", 404),
        ("POST", "other", 200),
    ]
    assert parse(line.format(f"HEAD /{BUCKET}/_benchmark_mark3", 404)) is None
    assert parse(" * Running on http://127.0.0.1:5000") is None
    assert area("lake/10/tables/dividends/account_id=1/part-0.parquet") == "table data"
    assert area("lake/10/duckdb/warehouse.duckdb") == "database"


def test_written_counts_new_and_replaced_objects_only():
    before = {"a": ("e1", 10), "b": ("e2", 20)}
    after = {"a": ("e1", 10), "b": ("e3", 25), "c": ("e4", 5)}
    assert written(before, after, lambda key: "x") == {"x": [2, 30]}


def test_the_server_logs_each_request_between_marks(tmp_path):
    with Moto(tmp_path / "moto.log") as moto:
        start = moto.mark()
        client = moto.client()
        client.put_object(Bucket=BUCKET, Key="lake/1/raw/x.json", Body=b"{}")
        client.list_objects_v2(Bucket=BUCKET, Prefix="lake/1/raw/")
        requests = moto.requests(start, moto.mark())
        assert [(r.kind, r.area) for r in requests] == [("PUT", "raw runs"), ("LIST", "raw runs")]
        assert {key: size for key, (_, size) in moto.objects().items()} == {"lake/1/raw/x.json": 2}
