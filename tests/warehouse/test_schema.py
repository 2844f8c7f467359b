"""New working databases: a process's first made in place, later ones copies of an empty one."""

from __future__ import annotations

import os
import stat

from warehouse import Warehouse, views
from warehouse.rebuild import rebuilding
from warehouse.views import ALL_VIEWS, VIEWS_SETTING

CATALOGUE = {
    "tables": "SELECT table_name, comment, sql FROM duckdb_tables()",
    "columns": "SELECT table_name, column_name, column_index, data_type, is_nullable, "
    "column_default, comment FROM duckdb_columns()",
    "constraints": "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()",
    "views": "SELECT view_name, comment, sql FROM duckdb_views() WHERE NOT internal",
    "settings": "SELECT * FROM settings",
}


def _catalogue(wh: Warehouse) -> dict[str, list[tuple]]:
    con = wh.connection
    return {name: sorted(con.sql(sql).fetchall(), key=repr) for name, sql in CATALOGUE.items()}


def _counting_create_views(monkeypatch) -> list[int]:
    made: list[int] = []
    real = views.create_views
    monkeypatch.setattr(views, "create_views", lambda con: made.append(1) or real(con))
    return made


def test_every_new_database_has_the_same_tables_views_and_comments(
    new_process, tmp_path, monkeypatch
):
    made = _counting_create_views(monkeypatch)
    catalogues = []
    for n in range(3):
        Warehouse.open(tmp_path / f"data{n}").close()
        # as the file holds them: DuckDB writes a view's text back in the file's format
        with Warehouse.open(tmp_path / f"data{n}") as wh:
            catalogues.append(_catalogue(wh))
            assert stat.S_IMODE(os.stat(wh.work_db).st_mode) == 0o600
    assert catalogues[0] == catalogues[1] == catalogues[2]
    assert {name for name, _, _ in catalogues[0]["views"]} == set(ALL_VIEWS)
    assert all(comment for _, comment, _ in catalogues[0]["views"])
    # the first made in place, the second made the empty database, the third copied it
    assert len(made) == 2


def test_a_copied_database_has_its_views_even_when_they_are_left_to_later(
    new_process, tmp_path, monkeypatch
):
    Warehouse.open(tmp_path / "first").close()
    made = _counting_create_views(monkeypatch)
    for n in range(2):
        with Warehouse.open(tmp_path / f"data{n}", views=False) as wh:
            names = wh.connection.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal")
            assert {name for (name,) in names.fetchall()} == set(ALL_VIEWS)
            wh.create_views()  # the same definitions: nothing to create
    assert len(made) == 1  # the empty database's, made once


def test_a_rebuild_from_the_empty_database_names_its_views_once(new_process, tmp_path):
    Warehouse.open(tmp_path / "first").close()
    Warehouse.open(tmp_path / "second").close()  # the empty database is made
    with Warehouse.open(tmp_path / "data") as wh:
        wanted = _catalogue(wh)
        with rebuilding(wh) as built:
            assert _catalogue(built)["views"] == wanted["views"]
        assert _catalogue(wh) == wanted
        named = wh.connection.execute(
            "SELECT count(*) FROM settings WHERE name = ?", [VIEWS_SETTING]
        )
        assert named.fetchall() == [(1,)]
