"""`t212-etl mcp`: the SDK's own client over stdio against a real published warehouse."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.app.mcp_server import MAX_ROWS, jsonable
from transforms.catalogue import TABLES
from warehouse import connect_readonly
from warehouse.views import VIEWS, description


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory, two_accounts_copy) -> Path:
    """A warehouse of two sandbox accounts, exported in-process."""
    return two_accounts_copy(tmp_path_factory.mktemp("mcp") / "data")


def digest(root: Path) -> dict[str, str]:
    """Every file below ``root`` with the hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def client(data_dir: Path):
    """An MCP client that starts the server over stdio, as a user's assistant would."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    server = StdioServerParameters(
        command=sys.executable, args=["-m", "flows", "mcp", "--data-dir", str(data_dir)]
    )
    return Client(server, read_timeout_seconds=60)


async def session(data_dir: Path, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    """Start the server as a user's MCP client would, list its tools, make ``calls``."""
    async with client(data_dir) as mcp:
        tools = (await mcp.list_tools()).tools
        prompts = (await mcp.list_prompts()).prompts
        results = [await mcp.call_tool(name, args) for name, args in calls]
    return [t.name for t in tools] + [p.name for p in prompts], results


@pytest.mark.slow  # the server runs as its own process, as an MCP client starts it
def test_tools_answer_exactly_and_refuse_writes(warehouse_dir, tmp_path):
    target = tmp_path / "stolen.csv"
    before = digest(warehouse_dir)
    calls = [
        ("tables", {}),
        ("query", {"sql": "SELECT count(*) AS n, sum(amount) AS total FROM dividends"}),
        ("query", {"sql": f"COPY dividends TO '{target}' (FORMAT csv)"}),
        ("query", {"sql": "SELECT * FROM range(5000) t(i)"}),
        ("query", {"sql": "SELEKT nonsense"}),
        ("query", {"sql": "SELECT account_id, count(*) FROM orders GROUP BY 1 ORDER BY 1"}),
    ]
    names, (tables, count, write, large, broken, after_error) = asyncio.run(
        session(warehouse_dir, calls)
    )
    assert {"tables", "query"} <= set(names)
    assert {"gains_this_tax_year", "dividends_by_month", "holdings_now"} <= set(names)

    listed = {t["name"]: t for t in tables.structured_content["result"]}
    assert "runs" in listed
    assert listed["positions_latest"]["kind"] == "view"
    # the declarations' one-line descriptions travel in the database as comments
    assert listed["dividends"]["description"] == TABLES["dividends"].description
    assert listed["positions_latest"]["description"] == description(VIEWS["positions_latest"])
    assert "load_state" not in listed

    con = connect_readonly(warehouse_dir)
    try:
        for name in ("dividends", "orders", "positions", "instruments", "positions_latest"):
            described = con.execute(f'DESCRIBE "{name}"').fetchall()
            assert [(c["name"], c["type"]) for c in listed[name]["columns"]] == [
                (row[0], row[1]) for row in described
            ]
            if name in TABLES:
                assert [row[0] for row in described] == TABLES[name].column_names
        n, total = con.execute("SELECT count(*), sum(amount) FROM dividends").fetchone()
        per_account = con.execute(
            "SELECT account_id, count(*) FROM orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    answer = count.structured_content
    assert answer["columns"] == ["n", "total"] and answer["truncated"] is False
    assert answer["rows"][0][0] == n and Decimal(answer["rows"][0][1]) == total
    assert isinstance(answer["rows"][0][1], str)

    assert write.is_error and "COPY" in write.content[0].text
    assert "\n" not in write.content[0].text
    assert not target.exists()
    assert digest(warehouse_dir) == before

    assert large.structured_content["truncated"] is True
    assert len(large.structured_content["rows"]) == MAX_ROWS

    assert broken.is_error and "\n" not in broken.content[0].text
    assert after_error.structured_content["rows"] == [list(r) for r in per_account]


async def calls_at_once(data_dir: Path, calls: list[tuple[str, dict]]) -> list:
    """Start the server and make ``calls`` at once, as an assistant's parallel tool calls."""
    async with client(data_dir) as mcp:
        return await asyncio.gather(*(mcp.call_tool(name, args) for name, args in calls))


@pytest.mark.slow  # the server runs as its own process
def test_tool_calls_at_once_each_get_their_answer(warehouse_dir):
    # each query takes a moment, so the server's threads hold their readers at once
    slow = "SELECT count(*) AS n FROM orders a, orders b WHERE a.order_id % 7 = {k}"
    calls = [("query", {"sql": slow.format(k=k)}) for k in range(4)] + [("tables", {})]
    results = asyncio.run(calls_at_once(warehouse_dir, calls))
    assert [r.is_error for r in results] == [False] * 5, [r.content for r in results]
    con = connect_readonly(warehouse_dir)
    try:
        expected = [con.execute(slow.format(k=k)).fetchone()[0] for k in range(4)]
    finally:
        con.close()
    assert [r.structured_content["rows"][0][0] for r in results[:4]] == expected
    assert "orders" in {t["name"] for t in results[4].structured_content["result"]}


def test_without_a_warehouse_it_says_so_in_one_line(tmp_path):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "flows", "mcp", "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "t212-etl run" in done.stderr
    assert done.stdout == ""


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=10, min_value=-(10**27)).filter(
        lambda d: d <= 10**27
    )
)
def test_decimals_travel_as_exact_strings(value):
    written = json.loads(json.dumps(jsonable([value, [value]])))
    assert Decimal(written[0]) == value and Decimal(written[1][0]) == value


def test_a_runaway_query_is_stopped_in_one_line(warehouse_dir):
    from flows.app.mcp_server import answer_query
    from warehouse.reader import QueryFailed

    started = time.monotonic()
    with pytest.raises(QueryFailed, match="stopped") as caught:
        answer_query(
            lambda: connect_readonly(warehouse_dir),
            "SELECT count(*) FROM range(100000000000) a, range(1000) b",
            seconds=0.5,
        )
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 30  # a bound on hanging, not a speed target
