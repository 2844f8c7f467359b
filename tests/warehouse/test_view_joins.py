"""Views join on equalities a hash can answer, and match report rows to API transactions
exactly as the rule says, whatever the rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.transforms.test_properties import QUICK
from tests.warehouse.conftest import rows_table
from warehouse.coverage_views import TRANSACTION_ACTIONS
from warehouse.views import ALL_VIEWS, INTEREST_LIKE_BELOW

# joins that compare every row of one side with every row of the other (of an account)
PAIRWISE = ("NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "PIECEWISE_MERGE_JOIN")
FLOWS = ("Deposit", "Withdrawal", "Transfer")


def _pairwise_joins(node: dict) -> list[str]:
    """The joins under ``node`` that cannot be answered by hashing an equality."""
    found = []
    name = node.get("name", "")
    conditions = node.get("extra_info", {}).get("Conditions", [])
    conditions = [conditions] if isinstance(conditions, str) else conditions
    if name in PAIRWISE or ("JOIN" in name and any(" OR " in c for c in conditions)):
        found.append(f"{name} on {conditions}")
    for child in node.get("children", []):
        found += _pairwise_joins(child)
    return found


def test_no_view_joins_on_a_disjunction(wh):
    """A join on `a = b OR c = d` cannot be hashed: within an account it compares every
    transaction with every report row (8,000 x 16,000 took 40 s a query)."""
    # with empty tables DuckDB plans some subqueries otherwise: a few rows in each
    _replace(wh, "transactions", [_transaction(f"r{i}") for i in range(3)])
    _replace(wh, "activity", [_report_row(f"a{i}", action) for i, action in enumerate(FLOWS)])
    found = {}
    for view in ALL_VIEWS:
        plan = wh.connection.execute(f'EXPLAIN (FORMAT json) SELECT * FROM "{view}"').fetchall()
        joins = [j for node in json.loads(plan[0][1]) for j in _pairwise_joins(node)]
        if joins:
            found[view] = joins
    assert found == {}


T = datetime(2024, 5, 1, 9, 30, 15, tzinfo=UTC)
_AT = st.builds(
    lambda s, ms: T + timedelta(seconds=s, milliseconds=ms),
    st.integers(0, 2),
    st.sampled_from([0, 400, 999]),
)
_AMOUNT = st.sampled_from([D("0.33"), D("-0.33"), D("7.5"), D("-7.5"), D("500")])
_REF = st.sampled_from(["r0", "r1", "r2"])
_TRANSACTION = st.fixed_dictionaries(
    {"account_id": st.sampled_from([1, 2]), "reference": _REF,
     "type": st.sampled_from(["DEPOSIT", "WITHDRAW", "FEE", "TRANSFER"]),
     "date_time": _AT, "amount": _AMOUNT, "currency": st.just("EUR")}
)  # fmt: skip
_REPORT_ROW = st.fixed_dictionaries(
    {"account_id": st.sampled_from([1, 2]), "report_id": st.none() | _REF,
     "action": st.sampled_from(TRANSACTION_ACTIONS), "time": _AT,
     "total": _AMOUNT | st.none()}
)  # fmt: skip


def _matches(t: dict, r: dict, *, signed: bool) -> bool:
    """The rule: a report row is an API transaction of its account with its reference, or
    in the same second with the same amount (signed, or either sign)."""
    if t["account_id"] != r["account_id"]:
        return False
    if r["report_id"] is not None and r["report_id"] == t["reference"]:
        return True
    if r["total"] is None or t["date_time"].replace(microsecond=0) != r["time"].replace(
        microsecond=0
    ):
        return False
    return t["amount"] == r["total"] if signed else abs(t["amount"]) == abs(r["total"])


def _reference_order(report_id: str | None, t: dict) -> int:
    """A row of the transaction's reference first, then one of another, then one of none
    (SQL's `report_id = reference DESC`, nulls last)."""
    return 0 if report_id == t["reference"] else 1 if report_id is not None else 2


def _kind(t: dict, report: list[dict]) -> tuple[str, str]:
    """cash_transactions' kind and source of ``t``: its first report row's action (by
    reference, then id), else an estimate or the API's type."""
    rows = [r for r in report if _matches(t, r, signed=True)]
    if rows:
        best = min(rows, key=lambda r: (_reference_order(r["report_id"], t), r["id"]))
        return best["action"].lower().replace(" on cash", ""), "report"
    if t["type"] == "DEPOSIT" and t["amount"] < INTEREST_LIKE_BELOW:
        return "interest", "estimate"
    return t["type"].lower(), "api"


def _expected(transactions: list[dict], report: list[dict]) -> dict:
    kinds = {(t["account_id"], t["reference"]): _kind(t, report) for t in transactions}
    unmatched = {
        (r["account_id"], r["id"])
        for r in report
        if not any(_matches(t, r, signed=False) for t in transactions)
    }
    action = {(r["account_id"], r["id"]): r["action"] for r in report}
    api_flows = {key for key, (kind, _) in kinds.items()
                 if kind in ("deposit", "withdraw", "withdrawal", "transfer")}  # fmt: skip
    report_flows = {(a, "report " + i) for a, i in unmatched if action[a, i] in FLOWS}
    fees = sum(kind == "fee" for kind, _ in kinds.values())
    fees += sum(action[row] == "Fee" for row in unmatched)
    return {
        "kinds": kinds,
        "fees": fees,
        "flows": {(a, "api " + ref) for a, ref in api_flows} | report_flows,
        "history": {(a, "activity:" + i) for a, i in unmatched},
    }


def _transaction(reference: str) -> dict:
    return {"account_id": 1, "reference": reference, "type": "DEPOSIT", "date_time": T,
            "amount": D("7.5"), "currency": "EUR"}  # fmt: skip


def _report_row(row_id: str, action: str) -> dict:
    return {"account_id": 1, "id": row_id, "report_id": None, "action": action, "time": T,
            "total": D("7.5")}  # fmt: skip


def _replace(wh, name: str, rows: list[dict]) -> None:
    data = rows_table(name, rows)  # noqa: F841 (read by DuckDB by name)
    wh.connection.execute(f'DELETE FROM "{name}"')
    wh.connection.execute(f'INSERT INTO "{name}" SELECT * FROM data')


@pytest.mark.slow  # Hypothesis through the warehouse: about 50 ms an example
def test_report_rows_match_api_transactions_by_the_rule_whatever_the_rows(wh):
    @QUICK
    @given(
        st.lists(_TRANSACTION, max_size=8, unique_by=lambda t: (t["account_id"], t["reference"])),
        st.lists(_REPORT_ROW, max_size=8),
    )
    def check(transactions: list[dict], report: list[dict]) -> None:
        report = [{**r, "id": f"a{i}"} for i, r in enumerate(report)]
        _replace(wh, "transactions", transactions)
        _replace(wh, "activity", report)
        con = wh.connection
        kinds = con.execute(
            'SELECT "account_id", "reference", "kind", "kind_source" FROM "cash_transactions"'
        ).fetchall()
        flows = con.execute('SELECT "account_id", "source" FROM "external_flows"').fetchall()
        history = con.execute(
            """SELECT "account_id", "item" FROM "history_items"
               WHERE "source" = 'report' AND "resource" = 'transactions'"""
        ).fetchall()
        fees = con.execute("""SELECT count(*) FROM "income_items" WHERE "kind" = 'fee'""")
        want = _expected(transactions, report)
        assert fees.fetchall() == [(want["fees"],)]
        assert {(a, ref): (k, s) for a, ref, k, s in kinds} == want["kinds"]
        assert len(flows) == len(set(flows)) and set(flows) == want["flows"]
        assert len(history) == len(set(history)) and set(history) == want["history"]

    check()
