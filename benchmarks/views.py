"""The views that match report rows to API transactions, on an account with years of both.

Synthetic rows written straight into a warehouse: one account with ``n`` API transactions
(deposits, withdrawals, fees, interest), each also a report row of the same second and
amount (half of them carrying the transaction's reference), and as many report rows again
that are trades and dividends. Every view that reads the matching is read whole, as
Arrow, on the published file (median of the runs, a fresh connection each).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.portfolio import timed_query
from benchmarks.results import Row, Section
from warehouse import Warehouse

TARGET_SECONDS = 1.0
VIEWS = ("cash_transactions", "external_flows", "history_items", "income_items",
         "income_monthly", "isa_subscriptions")  # fmt: skip
SIZES = (2_000, 40_000)  # API transactions of the account; report rows twice as many
SMOKE = (200,)
# the same second and amount on both sides: each cash report row is its transaction
_TIME = "TIMESTAMPTZ '2006-01-01 00:00:00+00' + i * INTERVAL 3 HOUR"
_AMOUNT = "CAST((i % 997) + 0.25 AS DECIMAL(38,10)) * CASE WHEN i % 4 = 1 THEN -1 ELSE 1 END"
_TRANSACTIONS = f"""
    INSERT INTO "transactions" ("account_id", "reference", "type", "date_time", "amount",
                                "currency", "_loaded_at", "_run_id")
    SELECT 1, 'tx-' || i, ['DEPOSIT', 'WITHDRAW', 'FEE', 'DEPOSIT'][i % 4 + 1],
           {_TIME}, {_AMOUNT},
           'GBP', now(), 'benchmark'
    FROM range(?) t(i)
"""
_REPORT = f"""
    INSERT INTO "activity" ("account_id", "id", "report_id", "action", "time", "total",
                            "total_currency", "_loaded_at", "_run_id")
    SELECT 1, 'cash-' || i, CASE WHEN i % 2 = 0 THEN 'tx-' || i END,
           ['Deposit', 'Withdrawal', 'Fee', 'Interest on cash'][i % 4 + 1],
           {_TIME}, {_AMOUNT},
           'GBP', now(), 'benchmark'
    FROM range(?) t(i)
    UNION ALL
    SELECT 1, 'other-' || i, NULL, ['Market buy', 'Dividend (Ordinary)'][i % 2 + 1],
           TIMESTAMPTZ '2006-01-01 01:00:00+00' + i * INTERVAL 3 HOUR,
           CAST(i % 89 + 1 AS DECIMAL(38,10)), 'GBP', now(), 'benchmark'
    FROM range(?) t(i)
"""


def build(data_dir: Path, n: int) -> None:
    """A published warehouse holding ``n`` transactions and ``2 n`` report rows."""
    with Warehouse.open(data_dir) as wh:
        wh.connection.execute(_TRANSACTIONS, [n])
        wh.connection.execute(_REPORT, [n, n])
        wh.publish()


def run(*, smoke: bool, runs: int) -> Section:
    """Each matching view read whole at each size."""
    section = Section(
        "Views matching report rows to transactions, at scale",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
    )
    for n in SMOKE if smoke else SIZES:
        with tempfile.TemporaryDirectory(prefix="t212-views-") as tmp:
            build(Path(tmp) / "data", n)
            for view in VIEWS:
                took = timed_query(Path(tmp) / "data", f'SELECT * FROM "{view}"', runs)
                section.rows.append(
                    Row(f"{view}, {n:,} transactions and {2 * n:,} report rows", took, "s",
                        target=f"< {TARGET_SECONDS:g} s", met=took < TARGET_SECONDS)
                )  # fmt: skip
    return section
