"""Rows of one source matched to another's in SQL that a hash join answers.

A rule "the same reference, or the same second and amount" written as one join on
``a = b OR (c = d AND ...)`` cannot be hashed: DuckDB then compares every row of an
account on one side with every row of that account on the other (1,600 transactions
against 4,510 report rows took 1.4 s a query, 8,000 against 16,000 took 40 s:
``benchmarks/views.py``). Each alternative is an equality join of its own instead, and
the views take their union (a pair matching both ways is found twice) or require both to
find nothing.
"""

from __future__ import annotations


def _transaction_rule(t: str, r: str, *, signed: bool) -> tuple[str, str]:
    """The two ways report row ``r`` is the API transaction ``t``, each an equality join:
    its reference, or the same second with the same amount (``signed``, or either sign)."""
    account = f'{t}."account_id" = {r}."account_id"'
    same = f'{t}."amount" = {r}."total"' if signed else f'abs({t}."amount") = abs({r}."total")'
    second = f"""date_trunc('second', {t}."date_time") = date_trunc('second', {r}."time")"""
    return f'{account} AND {t}."reference" = {r}."report_id"', f"{account} AND {second} AND {same}"


def transaction_pairs(columns: str) -> str:
    """SQL selecting ``columns`` of every API transaction ``t`` and report row ``r`` that
    is it (the amount signed); a pair that matches both ways comes twice."""
    return "\n        UNION ALL\n        ".join(
        f'SELECT {columns} FROM "transactions" t JOIN "activity" r ON {on}'
        for on in _transaction_rule("t", "r", signed=True)
    )


def in_no_transaction(row: str) -> str:
    """SQL: the report row ``row`` is no API transaction (the amount of either sign)."""
    return " AND ".join(
        f'NOT EXISTS (SELECT 1 FROM "transactions" t WHERE {on})'
        for on in _transaction_rule("t", row, signed=False)
    )


def split_pairs() -> str:
    """SQL selecting each close half ``c`` and open half ``o`` of a stock split in
    ``halves`` (of one account, at most a second apart, the same ISIN or the same ticker)
    with the gap between them; a pair of both the same ISIN and ticker comes twice."""
    columns = """c."account_id", coalesce(c."isin", o."isin") AS "isin",
                   coalesce(c."ticker", o."ticker") AS "ticker", c."time" AS "close_time",
                   o."time" AS "open_time", c."id" AS "close_id", o."id" AS "open_id",
                   abs(c."shares") AS "shares_before", abs(o."shares") AS "shares_after",
                   abs(epoch_ms(o."time") - epoch_ms(c."time")) AS "gap_ms" """
    return "\n            UNION ALL\n            ".join(
        f"""SELECT {columns}
            FROM "halves" c JOIN "halves" o
              ON c."action" = 'Stock split close' AND o."action" = 'Stock split open'
             AND c."account_id" = o."account_id" AND c."{key}" = o."{key}"
             AND abs(epoch_ms(o."time") - epoch_ms(c."time")) <= 1000"""
        for key in ("isin", "ticker")
    )
