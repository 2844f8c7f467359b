"""Raw runs in the store as a batch and a manifest; old copies still read; the database
goes up only when it changed."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.pipeline.rebuild import rebuild
from flows.pipeline.storage import publisher_for
from sandbox import Sandbox
from tests.flows.harness import db_contents, export, settings_for
from tests.lake.checks import tiny_sandbox_config
from transforms.catalogue import TABLES
from warehouse import raw
from warehouse.objectstore import ObjectStore
from warehouse.uploads import (
    BATCH,
    MANIFEST,
    UPLOADED_MARKER,
    database_key,
    download_raw,
    upload_database,
    upload_raw,
)

STARTED = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
bodies = st.lists(st.binary(max_size=300), max_size=6)


def land(data_dir: Path, resource: str, run_id: str, pages: list[bytes]) -> Path:
    """A complete run of ``pages`` in the raw zone of ``data_dir``."""
    for number, body in enumerate(pages, 1):
        raw.write_page(
            data_dir,
            raw.RunKey(7, resource, run_id, STARTED),
            raw.RawPage(
                number,
                body,
                f"/api/v0/{resource}?cursor={number}",
                STARTED + timedelta(seconds=number),
            ),
        )
    if not pages:  # a run of no pages still has its manifest
        raw.write_page(
            data_dir,
            raw.RunKey(7, resource, run_id, STARTED),
            raw.RawPage(1, b"", "/", STARTED),
        )
        for path in raw.page_files(raw.run_dir(data_dir, 7, resource, run_id), 1):
            path.unlink()
    raw.write_run_complete(data_dir, account=7, resource=resource, run_id=run_id, pages=len(pages))
    return raw.run_dir(data_dir, 7, resource, run_id)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the copy markers, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.name != UPLOADED_MARKER}  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=st.lists(bodies, min_size=1, max_size=4))
def test_runs_go_up_as_two_objects_and_land_back_byte_for_byte(tmp_path_factory, runs):
    root = tmp_path_factory.mktemp("copies")
    store = ObjectStore(f"file://{root / 'store'}")
    for i, pages in enumerate(runs):
        land(root / "a", f"res{i}", f"run{i}", pages)
    assert upload_raw(store, root / "a" / raw.RAW_DIR) == len(runs)
    assert upload_raw(store, root / "a" / raw.RAW_DIR) == 0  # copied once
    keys = sorted(store.list("raw/"))
    assert keys == sorted(f"raw/7/res{i}/run{i}/{name}" for i, pages in enumerate(runs)
                          for name in ((BATCH, MANIFEST) if pages else (MANIFEST,)))  # fmt: skip

    assert download_raw(store, root / "b" / raw.RAW_DIR) == len(runs)
    assert files_of(root / "b") == files_of(root / "a")
    for path in (root / "b" / raw.RAW_DIR).rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    landed = {r.resource: [p.body for p in raw.iter_pages(r)] for r in raw.iter_runs(root / "b")}
    assert landed == {f"res{i}": pages for i, pages in enumerate(runs)}


def test_the_manifest_holds_the_run_and_page_metadata_only(tmp_path):
    run = land(tmp_path, "orders", "r1", [b'{"items":[]}', b'{"items":[1]}'])
    store = ObjectStore(f"file://{tmp_path / 'store'}")
    upload_raw(store, tmp_path / raw.RAW_DIR)
    manifest = json.loads(store.get_bytes(f"raw/7/orders/r1/{MANIFEST}"))
    assert set(manifest) == {"format", "run", "complete", "pages", "batch_bytes", "batch_sha256"}
    assert manifest["run"] == json.loads((run / raw.RUN_FILE).read_bytes())
    assert [set(p) for p in manifest["pages"]] == [
        {"page", "request_path", "received_at", "offset", "length"}
    ] * 2
    batch = store.get_bytes(f"raw/7/orders/r1/{BATCH}")
    assert batch == b"".join(raw.page_files(run, n)[0].read_bytes() for n in (1, 2))


def test_a_batch_that_is_not_its_manifests_is_refused_and_lands_nothing(tmp_path):
    land(tmp_path / "a", "orders", "r1", [b"one", b"two"])
    store = ObjectStore(f"file://{tmp_path / 'store'}")
    upload_raw(store, tmp_path / "a" / raw.RAW_DIR)
    store.put_bytes(f"raw/7/orders/r1/{BATCH}", b"not the pages")
    with pytest.raises(ValueError, match="does not match its manifest; copy the run again"):
        download_raw(store, tmp_path / "b" / raw.RAW_DIR)
    assert list(raw.iter_runs(tmp_path / "b", include_incomplete=True)) == []


def test_a_batch_whose_manifest_never_went_up_is_not_a_run_and_goes_up_again(tmp_path):
    run = land(tmp_path / "a", "orders", "r1", [b"one", b"two"])
    store = ObjectStore(f"file://{tmp_path / 'store'}")
    upload_raw(store, tmp_path / "a" / raw.RAW_DIR)
    store.delete(f"raw/7/orders/r1/{MANIFEST}")  # a copy cut short after its batch
    (run / UPLOADED_MARKER).unlink()
    assert download_raw(store, tmp_path / "b" / raw.RAW_DIR) == 0
    assert upload_raw(store, tmp_path / "a" / raw.RAW_DIR) == 1
    assert download_raw(store, tmp_path / "b" / raw.RAW_DIR) == 1
    assert files_of(tmp_path / "b") == files_of(tmp_path / "a")


def test_the_database_goes_up_only_when_its_source_changed(tmp_path):
    store = ObjectStore(f"file://{tmp_path / 'store'}")
    source, copy = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    source.write_bytes(os.urandom(3000))
    copy.write_bytes(b"copy 1")
    assert upload_database(store, copy, "w1", source=source) is True
    uploaded = (tmp_path / "store" / database_key("w1")).stat().st_mtime_ns
    before = store.requests
    copy.write_bytes(b"copy 2")  # a new copy of the same source: not sent
    assert upload_database(store, copy, "w1", source=source) is False
    assert store.requests - before == 1  # the digest's read, not the database
    assert (tmp_path / "store" / database_key("w1")).stat().st_mtime_ns == uploaded
    assert store.get_bytes(database_key("w1")) == b"copy 1"
    source.write_bytes(source.read_bytes()[:-1] + b"!")
    assert upload_database(store, copy, "w1", source=source) is True
    assert store.get_bytes(database_key("w1")) == b"copy 2"


def previous_layout(store: ObjectStore, raw_dir: Path, run: Path) -> None:
    """Copy ``run`` the way the previous version did: a file per local file, complete last."""
    key = f"raw/{run.relative_to(raw_dir).as_posix()}"
    for name in (BATCH, MANIFEST):
        store.delete(f"{key}/{name}")
    for path in sorted(run.iterdir()):
        if path.name not in (raw.COMPLETE_FILE, UPLOADED_MARKER):
            store.put_file(f"{key}/{path.name}", path)
    store.put_file(f"{key}/{raw.COMPLETE_FILE}", run / raw.COMPLETE_FILE)


def test_a_store_with_runs_of_the_previous_layout_rebuilds(tmp_path):
    url = f"file://{tmp_path / 'store'}"
    with Sandbox(tiny_sandbox_config()) as sb:
        settings = settings_for(sb, tmp_path / "d0", storage_url=url)
        assert export(settings).exit_code == 0
        lake = publisher_for(settings).lake
        raw_dir = tmp_path / "d0" / raw.RAW_DIR
        runs = sorted(p.parent for p in raw_dir.glob(f"*/*/*/{raw.COMPLETE_FILE}"))
        for run in runs[::2]:  # every other run as the previous version left it
            previous_layout(lake.store, raw_dir, run)
        assert any(k.endswith("/page-00001.meta.json") for k in lake.store.list("raw/"))
        assert any(k.endswith(f"/{MANIFEST}") for k in lake.store.list("raw/"))

        rebuilt = tmp_path / "fresh"
        counts = rebuild(
            rebuilt, publisher=publisher_for(settings_for(sb, rebuilt, storage_url=url))
        )
        assert sum(counts.values()) == len(runs)
        assert files_of(rebuilt / raw.RAW_DIR) == files_of(raw_dir)
        for name in ("orders", "dividends", "transactions", "instruments"):
            assert name in TABLES
            assert db_contents(rebuilt, name) == db_contents(tmp_path / "d0", name), name
