"""Private permissions, atomic writes and path escaping."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import pytest

from tests.warehouse.conftest import T0, dividend, rows_table
from warehouse import Warehouse
from warehouse.files import escape_component, unescape_component, write_atomic
from warehouse.merge import Load
from warehouse.raw import RawPage, RunKey, write_page


@pytest.fixture
def open_umask():
    """Run with umask 0, so only explicit modes keep files private."""
    old = os.umask(0)
    yield
    os.umask(old)


def _modes(root):
    for path in [root, *root.rglob("*")]:
        yield path, stat.S_IMODE(path.lstat().st_mode), path.is_dir()


def test_everything_created_is_private_under_umask_zero(tmp_path, open_umask):
    data = tmp_path / "data"
    write_page(
        data,
        RunKey("ISA", "dividends", "r1", T0),
        RawPage(1, b"{}", "/api/v0/x", T0),
    )
    with Warehouse.open(data) as wh:
        rows = rows_table("dividends", [dividend("a", "1.5")])
        wh.merge_resource(Load("dividends", 1, "r1", T0), {"dividends": rows}, None)
        wh.run_log.record_run("r1", started_at=T0, outcome="success")
        wh.publish()
    seen = list(_modes(data))
    assert len(seen) > 10
    for path, mode, is_dir in seen:
        assert mode == (0o700 if is_dir else 0o600), path


@pytest.mark.parametrize(
    "hostile", ["../x", "a/b", "..", ".", "with space", "ünï/cødé", "/etc/passwd", "a\\b", "%2F"]
)
def test_escaped_components_stay_inside(tmp_path, hostile):
    if hostile in (".", ".."):
        with pytest.raises(ValueError):
            escape_component(hostile)
        return
    component = escape_component(hostile)
    assert "/" not in component and component not in (".", "..")
    assert set(component) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-%"
    )
    assert unescape_component(component) == hostile
    assert (tmp_path / component).resolve().parent == tmp_path.resolve()


def test_escaping_is_injective():
    names = ["a/b", "a%2Fb", "a b", "a%20b", "x", "X"]
    assert len({escape_component(n) for n in names}) == len(names)


def test_hostile_raw_names_land_under_the_raw_dir(tmp_path):
    data = tmp_path / "data"
    when = datetime(2024, 1, 1, tzinfo=UTC)
    path = write_page(
        data,
        RunKey("../../evil", "../r", "../../../run", when),
        RawPage(1, b"[]", "/p", when),
    )
    assert path.resolve().is_relative_to((data / "raw").resolve())
    assert not (tmp_path / "evil").exists()
    assert [p for p in tmp_path.rglob("*") if not p.resolve().is_relative_to(data.resolve())] == []


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f.bin"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "f.bin"
    write_atomic(target, b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
