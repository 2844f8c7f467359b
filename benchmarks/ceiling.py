"""Reference (a): DuckDB reads the same landed pages itself and MERGEs them on the same keys."""

from __future__ import annotations

from pathlib import Path

import duckdb

from benchmarks.rawpages import ACCOUNT_ID
from transforms.catalogue import TABLES
from transforms.dividends import DIVIDENDS
from transforms.instruments import INSTRUMENTS
from transforms.mapping import Mapping
from transforms.orders import FILL_TAXES, FILLS, ORDERS

_JSON_TYPES = {"decimal": "DECIMAL(38,10)", "bigint": "BIGINT", "boolean": "BOOLEAN"}


def _tree(mappings: list[tuple[Mapping, str]]) -> dict:
    """The nested JSON structure (path -> DuckDB type) that the mappings read."""
    tree: dict = {}
    for mapping, prefix in mappings:
        table = TABLES[mapping.table]
        for paths, column in mapping.sources():
            kind = _JSON_TYPES.get(table.column(column).type, "VARCHAR")
            for path in paths:
                node = tree
                *parents, leaf = (prefix + path).split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = kind
    return tree


def _type(node: dict | list | str) -> str:
    if isinstance(node, str):
        return f'"{node}"'
    if isinstance(node, list):
        return f"[{_type(node[0])}]"
    return "{" + ",".join(f'"{k}":{_type(v)}' for k, v in node.items()) + "}"


def _select(mapping: Mapping, alias: str, constants: dict[str, str]) -> str:
    """Catalogue columns from the unnested struct ``alias``, first non-null alternative wins."""
    table = TABLES[mapping.table]
    exprs = {}
    for paths, column in mapping.sources():
        refs = [_ref(alias, path) for path in paths]
        value = refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"
        exprs[column] = f"CAST({value} AS {table.column(column).duckdb_type})"
    exprs.update(constants)
    return ", ".join(f'{exprs.get(c, "NULL")} AS "{c}"' for c in table.column_names)


def _ref(alias: str, path: str) -> str:
    """``alias['a']['b']``, or ``"a"['b']`` when the first part is a column (no alias)."""
    head, *rest = path.split(".")
    start = f"{alias}['{head}']" if alias else f'"{head}"'
    return start + "".join(f"['{p}']" for p in rest)


def _merge(con: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
    t = TABLES[table]
    keys = ", ".join(f'src."{k}"' for k in t.key)
    on = " AND ".join(f't."{k}" = s."{k}"' for k in t.key)
    compared = [c for c in t.value_columns if c not in ("_loaded_at", "_run_id")]
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM s."{c}"' for c in compared)
    sets = ", ".join(f'"{c}" = s."{c}"' for c in t.value_columns)
    con.execute(
        f'MERGE INTO "{table}" t USING (SELECT * FROM ({source}) src '
        f"QUALIFY row_number() OVER (PARTITION BY {keys}) = 1) s ON {on} "
        f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {sets} "
        "WHEN NOT MATCHED THEN INSERT BY NAME"
    )


def load(db: Path, pages: dict[str, list[str]], run_id: str, *, fresh: bool) -> None:
    """Merge the landed pages (gzip files per resource) into ``db`` in one transaction."""
    if fresh:
        db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    for name in ("instruments", "dividends", "orders", "fills", "fill_taxes"):
        con.execute(TABLES[name].duckdb_ddl())
    meta = {"_loaded_at": "now()", "_run_id": f"'{run_id}'"}
    account = {"account_id": str(ACCOUNT_ID), **meta}
    con.begin()
    files = pages["instruments"]
    schema = _type([_tree([(INSTRUMENTS, "")])])
    seen = {"first_seen_at": "now()", "last_seen_at": "now()", "is_listed": "true", **meta}
    # the list is one JSON array, not one object per element
    objects = f"read_json_objects({files!r}, format = 'unstructured')"
    _merge(con, "instruments", f"SELECT {_select(INSTRUMENTS, 'i', seen)} FROM (SELECT unnest("
           f"from_json(json, '{schema}')) AS i FROM {objects})")  # fmt: skip
    schema = _type({"items": [_tree([(DIVIDENDS, "")])]})
    _merge(con, "dividends", f"SELECT {_select(DIVIDENDS, 'i', account)} FROM (SELECT unnest("
           f"from_json(json, '{schema}').items) AS i FROM read_json_objects("
           f"{pages['dividends']!r}))")  # fmt: skip
    tree = _tree([(ORDERS, ""), (FILLS, "")])
    tree["fill"]["walletImpact"]["taxes"] = [_tree([(FILL_TAXES, "")])["tax"]]
    schema = _type({"items": [tree]})
    con.execute(
        "CREATE TEMP TABLE items AS SELECT unnest(from_json(json, ?).items) AS i "
        "FROM read_json_objects(?)",
        [schema, pages["orders"]],
    )
    _merge(con, "orders", f"SELECT {_select(ORDERS, 'i', account)} FROM items")
    _merge(con, "fills", f"SELECT {_select(FILLS, 'i', account)} FROM items "
           "WHERE i.fill IS NOT NULL")  # fmt: skip
    _merge(con, "fill_taxes", f"SELECT {_select(FILL_TAXES, '', account)} FROM (SELECT "
           "i.fill AS fill, unnest(i.fill.walletImpact.taxes) AS tax FROM items "
           "WHERE i.fill IS NOT NULL)")  # fmt: skip
    con.execute("DROP TABLE items")
    con.commit()
    con.execute("CHECKPOINT")
    con.close()
