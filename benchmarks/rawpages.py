"""A raw zone of a million-row history, written fast from sandbox-generated item templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox import DEMO_ACCOUNT_ID, AccountSpec, SandboxSize
from sandbox.account import AccountBook
from sandbox.config import DEFAULT_NOW, DEMO_KEY, DEMO_SECRET
from sandbox.wire import encode
from warehouse import raw

ACCOUNT_ID = DEMO_ACCOUNT_ID
PER_PAGE = 50
POOL = 1000
SEED = 212
RUN_STARTED = datetime(2025, 6, 30, 21, 0, tzinfo=UTC)
_KEY = "@@KEY@@"
_ORDER_ID = 987654321987654
_FILL_ID = 876543219876543


@dataclass(frozen=True)
class RawRun:
    """One landed run of the raw zone: its id and when it started."""

    run_id: str
    started_at: datetime = RUN_STARTED

    @classmethod
    def nth(cls, k: int) -> RawRun:
        """The ``k``-th run: a day after the one before."""
        started = RUN_STARTED + timedelta(days=k)
        return cls(started.strftime("%Y%m%dT%H%M%S000000Z"), started)


def _book(instruments: int) -> AccountBook:
    size = SandboxSize(instruments=instruments, dividends=POOL, orders=POOL, transactions=20)
    spec = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=size)
    return AccountBook(SEED, spec, int(DEFAULT_NOW.timestamp() * 1000), False)


def dividend_templates(book: AccountBook) -> list[str]:
    """Dividend items as JSON text with a placeholder where the reference goes."""
    out = []
    for i in range(POOL):
        item = dict(book.dividends.item(i), reference=_KEY)
        out.append(encode(item).decode())
    return out


def order_templates(book: AccountBook) -> list[str]:
    """``{order, fill}`` items as JSON text with placeholder order and fill ids."""
    out = []
    for i in range(POOL):
        item = book.orders.item(i)
        order = dict(item["order"], id=_ORDER_ID)
        fill = dict(item["fill"], id=_FILL_ID) if item["fill"] else None
        out.append(encode({"order": order, "fill": fill}).decode())
    return out


def _dividend(template: str, n: int) -> str:
    return template.replace(_KEY, f"{n:08x}-0000-4000-a000-{n * 7919 % 10**12:012d}")


def _order(template: str, n: int) -> str:
    return template.replace(str(_ORDER_ID), str(30_000_000_000 + n)).replace(
        str(_FILL_ID), str(15_000_000_000 + n)
    )


def write_history(
    data_dir: Path, resource: str, rows: int, run: RawRun, *, changed: bool = False
) -> int:
    """Land ``rows`` synthetic items of ``resource`` as one complete raw run; returns pages.

    ``changed`` lands the same keys with the currency of every row (and fill, tax) changed.
    """
    book = _book(100)
    templates, make = (
        (dividend_templates(book), _dividend)
        if resource == "dividends"
        else (order_templates(book), _order)
    )
    if changed:
        templates = [t.replace('"currency":"EUR"', '"currency":"GBP"') for t in templates]
    pages = 0
    for start in range(0, rows, PER_PAGE):
        stop = min(rows, start + PER_PAGE)
        items = ",".join(make(templates[n % POOL], n) for n in range(start, stop))
        pages += 1
        nxt = "null" if stop >= rows else f'"/api/v0/equity/history/{resource}?cursor={stop}"'
        body = f'{{"items":[{items}],"nextPagePath":{nxt}}}'.encode()
        raw.write_page(
            data_dir,
            raw.RunKey(DEMO_ACCOUNT_ID, resource, run.run_id, run.started_at),
            raw.RawPage(
                pages, body, f"/api/v0/equity/history/{resource}?limit={PER_PAGE}", run.started_at
            ),
        )
    raw.write_run_complete(
        data_dir, account=DEMO_ACCOUNT_ID, resource=resource, run_id=run.run_id, pages=pages
    )
    return pages


def write_instruments(data_dir: Path, count: int, run: RawRun) -> None:
    """Land the sandbox's instrument list of ``count`` rows as one raw run."""
    body = _book(count).instruments_body()
    raw.write_page(
        data_dir,
        raw.RunKey("shared", "instruments", run.run_id, run.started_at),
        raw.RawPage(1, body, "/api/v0/equity/metadata/instruments", run.started_at),
    )
    raw.write_run_complete(
        data_dir, account="shared", resource="instruments", run_id=run.run_id, pages=1
    )


def write_raw_zone(data_dir: Path, rows: int, instruments: int, *, runs: int = 1) -> None:
    """Dividends, orders and instruments; ``runs`` > 1 lands the same history again (updates)."""
    for k in range(runs):
        run = RawRun.nth(k)
        write_instruments(data_dir, instruments, run)
        for resource in ("dividends", "orders"):
            write_history(data_dir, resource, rows, run, changed=k > 0)
