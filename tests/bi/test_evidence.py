"""The Evidence project in bi/evidence: built offline on a sandbox warehouse, opened in Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.flows.dashboard.browser import Browser
from tests.flows.dashboard.sample import build_warehouse
from tests.loopback import serving
from tests.system import EVIDENCE, NPM_CI, installing, system_program, wait_for_install

pytestmark = [pytest.mark.xdist_group("evidence"), pytest.mark.slow]  # Node, npm, Chromium

NETWORK_GUARD = Path(__file__).with_name("no_network.cjs")
NODE_NEEDED = "tests/bi needs Node.js 20 or newer with npm: install Node.js 20+"
SOURCE_QUERIES = {"accounts", "cash_activity", "cash_transactions", "dividends_monthly", "holdings"}
# the project's own files; the rest of bi/evidence is installed or built
NOT_COPIED = shutil.ignore_patterns("node_modules", ".evidence", "build", ".svelte-kit", ".env*")
CENT = Decimal("0.005")  # a shown amount is the exact one rounded to cents
PAGE_WAIT = 60  # seconds for DuckDB-Wasm to start in the page and the charts to draw
# A chart counts as drawn when ECharts put its canvas in the chart's container and more
# than MIN_DRAWN of the canvas is in colour (bars; axes and labels are grey, the legend's
# markers alone stay far below it).
MIN_DRAWN = 0.01
PAGE_STATE = """(() => {
  const visible = e => e.getClientRects().length > 0;
  const charts = [...document.querySelectorAll('[_echarts_instance_]')].map(box => {
    const canvas = box.querySelector('canvas');
    if (!canvas || !canvas.width || !canvas.height) return {width: 0, height: 0, drawn: 0};
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) {
      const [r, g, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]];
      if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
    }
    return {width: canvas.width, height: canvas.height,
            drawn: coloured / (canvas.width * canvas.height)};
  });
  const tables = [...document.querySelectorAll('table')].filter(visible).map(t => ({
    head: [...t.querySelectorAll('th')].map(th => th.textContent.trim()).filter(Boolean),
    rows: [...t.querySelectorAll('tr')].filter(tr => tr.querySelector('td'))
      .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim())),
  }));
  return {
    title: document.title,
    h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
    text: document.body.innerText,
    links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
    charts, tables,
    // Evidence shows a failed query or component in a red box (bg-red-50, text-red-600)
    errorBoxes: [...document.querySelectorAll('[class*="red-"]')].filter(visible)
      .map(e => e.textContent.trim().slice(0, 200)),
  };
})()"""
CATEGORY = """CASE WHEN kind IN ('interest', 'lending_interest') THEN 'interest'
    WHEN kind = 'withholding_tax' THEN 'withholding tax' ELSE 'fees' END"""


@dataclass
class Site:
    """The built Evidence site served on loopback, and the warehouse it was built from."""

    url: str
    con: duckdb.DuckDBPyConnection
    network_log: Path


def node_major() -> int | None:
    """The major version of the ``node`` on PATH, or None when node or npm is missing."""
    node = system_program("node", "nodejs")
    if node is None or system_program("npm", "npm") is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def installed_matches_lock(project: Path) -> bool:
    """Whether node_modules holds exactly what package-lock.json pins.

    npm records what it installed in ``node_modules/.package-lock.json``: the lock's
    entries less the optional ones of other platforms, plus the dependencies bundled in
    a package's own tarball (``inBundle``), which come with that package.
    """
    try:
        lock = json.loads((project / "package-lock.json").read_text())["packages"]
        hidden = project / "node_modules" / ".package-lock.json"
        installed = json.loads(hidden.read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return False
    if any(
        lock.get(name) != entry for name, entry in installed.items() if not entry.get("inBundle")
    ):
        return False
    return all(
        entry.get("optional") for name, entry in lock.items() if name and name not in installed
    )


def finish(proc: subprocess.Popen, what: str, timeout: float) -> str:
    """Wait for a step; fail the test with its output's end if it fails or runs too long."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the step's own group: npx and vite under it
        out, _ = proc.communicate()
        pytest.fail(f"{what} still running after {timeout} s:\n{out[-3000:]}")
    if proc.returncode != 0:
        pytest.fail(f"{what} exited with {proc.returncode}:\n{out[-3000:]}")
    return out


def start(command: list[str] | tuple[str, ...], cwd: Path, env: dict | None = None):
    """Start a step in its own process group, its output collected."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def evidence_env(data_dir: Path, network_log: Path) -> dict[str, str]:
    """The environment of the Evidence steps: the data directory, and no network.

    Evidence settings a developer's shell may carry are left out, so only the test's
    data directory is read.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDENCE_", "VITE_"))}
    env["EVIDENCE_VAR__T212_DATA_DIR"] = str(data_dir)
    # a larger young generation: V8 collects the build's short-lived objects less often
    # (a garbage collector's setting: measured 56-57 s of CPU instead of 62-66 s a build)
    env["NODE_OPTIONS"] = f'--require "{NETWORK_GUARD}" --max-semi-space-size=64'
    env["T212_NETWORK_LOG"] = str(network_log)
    return env


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the build directory without logging each request to stderr."""

    def log_message(self, format, *args):
        """Drop the access log."""


class _Server(http.server.ThreadingHTTPServer):
    """The loopback server; a request the browser gave up on is not an error."""

    def handle_error(self, request, client_address):
        """Stay quiet about connections the browser closed, report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    with serving(_Server(("127.0.0.1", 0), handler)) as url:
        yield url


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """bi/evidence installed, its sources run and its site built on a sandbox warehouse."""
    major = node_major()
    if major is None or major < 20:
        pytest.fail(NODE_NEEDED, pytrace=False)
    root = tmp_path_factory.mktemp("evidence")
    data_dir = root / "data"
    # CI may be installing the packages already (tests/system.py); else they are installed
    # here unless node_modules holds what the lock pins
    ci_installs = installing("evidence")
    fresh = ci_installs or installed_matches_lock(EVIDENCE)
    install = None if fresh else start(NPM_CI, EVIDENCE)
    try:
        build_warehouse(data_dir, runs=1)  # while npm installs
    except BaseException:
        if install is not None:
            os.killpg(install.pid, signal.SIGKILL)
            install.wait()
        raise
    if install is not None:
        finish(install, "npm ci", timeout=900)
    elif ci_installs:
        wait_for_install("evidence")

    # Built in a copy, so a build of the user's own data in bi/evidence stays as it is.
    project = root / "project"
    shutil.copytree(EVIDENCE, project, ignore=NOT_COPIED)
    (project / "node_modules").symlink_to(EVIDENCE / "node_modules", target_is_directory=True)
    network_log = root / "network.log"
    env = evidence_env(data_dir, network_log)
    evidence = str(project / "node_modules" / ".bin" / "evidence")
    finish(start([evidence, "sources"], project, env), "evidence sources", timeout=300)
    manifest = project / ".evidence" / "template" / "static" / "data" / "manifest.json"
    written = json.loads(manifest.read_text())["renderedFiles"].get("t212", [])
    assert {Path(f).stem for f in written} == SOURCE_QUERIES
    finish(start([evidence, "build:strict"], project, env), "evidence build:strict", timeout=900)

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        with serve(project / "build") as url:
            yield Site(url, con, network_log)
    finally:
        con.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """One headless Chromium for every page, in UTC so dates show as the warehouse has them."""
    with Browser(tmp_path_factory.mktemp("evidence-browser")) as b:
        b.call("Emulation.setTimezoneOverride", session=True, timezoneId="UTC")
        yield b


def open_page(browser: Browser, site: Site, path: str, charts: int) -> dict:
    """Open a page and wait until ``charts`` charts drew and every table has rows."""
    browser.events.clear()
    browser.open(f"{site.url}/{path}", timeout=PAGE_WAIT)
    deadline = time.monotonic() + PAGE_WAIT
    while True:
        state = browser.evaluate(PAGE_STATE)
        drawn = [c for c in state["charts"] if c["drawn"] > MIN_DRAWN]
        tables_filled = state["tables"] and all(t["rows"] for t in state["tables"])
        if (len(drawn) >= charts and tables_filled) or time.monotonic() > deadline:
            return state
        time.sleep(0.25)


def assert_page(browser: Browser, site: Site, state: dict, title: str, charts: int) -> None:
    """Title, heading and charts as expected; no error box, console error or foreign request."""
    assert state["title"] == title
    assert state["h1"] == [title]
    assert state["errorBoxes"] == []
    assert len(state["charts"]) == charts
    for chart in state["charts"]:
        assert chart["width"] > 0 and chart["height"] > 0
        assert chart["drawn"] > MIN_DRAWN, chart
    assert browser.console_errors() == []
    urls = browser.requested_urls()
    assert urls
    foreign = [u for u in urls if not u.startswith((f"{site.url}/", "data:", "blob:"))]
    assert foreign == []


def amount(text: str) -> Decimal:
    """A number as a table shows it (``22,190.13``)."""
    return Decimal(text.replace(",", ""))


def assert_rows(shown: list[list[str]], expected: list[tuple], money: set[int]) -> None:
    """Table rows against the warehouse's: money columns to the cent, the rest as text."""
    assert len(shown) == len(expected)
    for row, want in zip(shown, expected, strict=True):
        assert len(row) == len(want), row
        for i, (cell, value) in enumerate(zip(row, want, strict=True)):
            if i in money:
                assert abs(amount(cell) - Decimal(value)) <= CENT, (row, want)
            elif isinstance(value, int):
                assert int(cell.replace(",", "")) == value, (row, want)
            else:
                assert cell == str(value), (row, want)


def test_sources_and_build_need_no_network(site):
    """Sources and build asked for no host but loopback: no telemetry, no DuckDB extension."""
    log = site.network_log.read_text() if site.network_log.exists() else ""
    assert log == ""
    # the guard works: a node process under it asking for a host is refused and logged
    check_log = site.network_log.with_name("guard-check.log")
    guarded = {"NODE_OPTIONS": f'--require "{NETWORK_GUARD}"', "T212_NETWORK_LOG": str(check_log)}
    check = subprocess.run(
        ["node", "-e", "require('net').connect(443, 'guard-check.invalid').on('error', () => {})"],
        env={**os.environ, **guarded},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "connect guard-check.invalid" in check_log.read_text()


def test_index_lists_the_accounts_and_links_every_page(site, browser):
    """The index: each account at its newest snapshot, and a link to each page."""
    state = open_page(browser, site, "", charts=0)
    assert_page(browser, site, state, "Trading 212 warehouse", charts=0)
    assert {"/dividends", "/holdings", "/cash"} <= set(state["links"])
    expected = site.con.sql(
        """SELECT account_id::VARCHAR, currency, strftime(date, '%Y-%m-%d'), total_value,
                  investments_current_value, cash
           FROM portfolio_value_daily
           QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY date DESC) = 1
           ORDER BY 1"""
    ).fetchall()
    assert len(expected) == 2  # the sandbox's two accounts
    [table] = state["tables"]
    assert table["head"] == [
        "Account",
        "Currency",
        "Snapshot",
        "Total value",
        "Investments",
        "Cash",
    ]
    assert_rows(table["rows"], expected, money={3, 4, 5})


def test_dividends_page_shows_gross_tax_and_net_per_account(site, browser):
    """A chart per account and currency, and totals matching ``dividends_monthly``."""
    expected = site.con.sql(
        """SELECT account_id::VARCHAR, currency, sum(gross_amount),
                  sum(coalesce(withholding_tax, 0)), sum(net_amount),
                  sum(payments)::INTEGER, count(*)::INTEGER
           FROM dividends_monthly GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    assert len(expected) == 2  # both sandbox accounts received dividends
    state = open_page(browser, site, "dividends", charts=len(expected))
    assert_page(browser, site, state, "Dividend income by month", charts=len(expected))
    totals, months = state["tables"]
    assert totals["head"] == [
        "Account",
        "Currency",
        "Gross",
        "Withholding tax",
        "Net",
        "Payments",
        "Months",
    ]
    assert_rows(totals["rows"], expected, money={2, 3, 4})
    # the monthly table starts with the newest month, 12 rows a page
    newest = site.con.sql(
        """SELECT strftime(month, '%b %Y'), account_id::VARCHAR, currency, gross_amount,
                  coalesce(withholding_tax, 0), net_amount, payments::INTEGER
           FROM dividends_monthly ORDER BY month DESC, 2, 3 LIMIT 12"""
    ).fetchall()
    assert_rows(months["rows"], newest, money={3, 4, 5})


def test_holdings_page_shows_value_per_account_and_position(site, browser):
    """The value-by-type chart, per-account totals and the positions of ``positions_latest``."""
    state = open_page(browser, site, "holdings", charts=1)
    assert_page(browser, site, state, "Holdings", charts=1)
    per_account, positions = state["tables"]
    expected = site.con.sql(
        """SELECT account_id::VARCHAR, wallet_impact_currency, count(*)::INTEGER,
                  sum(wallet_impact_current_value), sum(wallet_impact_total_cost),
                  sum(wallet_impact_unrealized_profit_loss),
                  strftime(max(snapshot_date), '%Y-%m-%d')
           FROM positions_latest GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    assert len(expected) == 2
    assert_rows(per_account["rows"], expected, money={3, 4, 5})
    largest = site.con.sql(
        """SELECT p.account_id::VARCHAR, p.ticker, coalesce(i.name, p.instrument_name),
                  coalesce(i.type, 'UNKNOWN'), p.wallet_impact_current_value
           FROM positions_latest p LEFT JOIN instruments i USING (ticker)
           ORDER BY 1, 5 DESC LIMIT 15"""
    ).fetchall()
    shown = [[r[0], r[1], r[2], r[3], r[6]] for r in positions["rows"]]
    assert_rows(shown, largest, money={4})


def test_cash_page_shows_interest_and_fees_per_account(site, browser):
    """Interest and fees per account from ``cash_transactions``; the reports' part as they are."""
    api_accounts = site.con.sql(
        """SELECT DISTINCT account_id::VARCHAR, currency FROM cash_transactions
           WHERE kind IN ('interest', 'fee') ORDER BY 1, 2"""
    ).fetchall()
    report_accounts = site.con.sql(
        "SELECT DISTINCT account_id::VARCHAR, currency FROM cash_activity_monthly ORDER BY 1, 2"
    ).fetchall()
    assert len(api_accounts) == 2
    charts = len(api_accounts) + len(report_accounts)
    state = open_page(browser, site, "cash", charts=charts)
    assert_page(browser, site, state, "Cash activity", charts=charts)
    kinds = site.con.sql(
        """SELECT account_id::VARCHAR, currency, kind, sum(amount), count(*)::INTEGER,
                  count(*) FILTER (WHERE kind_source = 'estimate')::INTEGER
           FROM cash_transactions GROUP BY ALL ORDER BY 1, 2, 3 LIMIT 30"""
    ).fetchall()
    assert {row[2] for row in kinds} >= {"interest", "fee", "deposit"}
    api_table, *report_tables = state["tables"]
    assert api_table["head"] == [
        "Account",
        "Currency",
        "Kind",
        "Amount",
        "Transactions",
        "Kind estimated",
    ]
    assert_rows(api_table["rows"], kinds, money={3})
    if not report_accounts:  # the sandbox export of the fixture has no CSV reports
        assert report_tables == []
        assert "No rows of the broker's CSV reports in this warehouse yet." in state["text"]
        return
    report = site.con.sql(
        f"""SELECT account_id::VARCHAR, currency, {CATEGORY} AS category, kind, sum(amount),
                   sum(rows)::INTEGER
            FROM cash_activity_monthly GROUP BY ALL ORDER BY 1, 2, 3, 4 LIMIT 30"""
    ).fetchall()
    [report_table] = report_tables
    assert_rows(report_table["rows"], report, money={4})
