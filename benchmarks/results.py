"""RESULTS.md: the machine, the versions and one table per benchmark, medians and ratios."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("t212-etl", "duckdb", "pandas", "pyarrow", "httpx", "prefect", "dlt")


@dataclass
class Row:
    """One measured figure, its reference measured in the same run, and its target."""

    measure: str
    value: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """The figure over its reference."""
        if not self.reference_value:
            return None
        return self.value / self.reference_value


@dataclass
class Section:
    """One benchmark: a title, what it measures, its rows and notes."""

    title: str
    about: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def peak_mib() -> float:
    """This process's peak resident memory in MiB, from ``VmHWM``.

    Not ``ru_maxrss``: a child process inherits its parent's peak there at fork, so a
    measurement started by a large benchmark process reported the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory is measured on Linux")


def median(values: list[float]) -> float:
    """The median of several runs."""
    return statistics.median(values)


def machine() -> dict[str, str]:
    """Cores, memory, system and Python of this machine."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{memory / 2**30:.1f} GiB",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    """Installed versions of the packages that matter here."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def render(sections: list[Section], *, runs: int, smoke: bool, seconds: float) -> str:
    """The whole RESULTS.md text."""
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m benchmarks{' --smoke' if smoke else ''}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s; every figure is the median "
        f"of {runs} run{'s' if runs != 1 else ''} unless a note says otherwise, and every ratio "
        "is against a reference measured in the same run.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in machine().items()),
        "",
        "| package | version |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in versions().items()),
    ]
    if smoke:
        lines += ["", "**Smoke run: tiny sizes, the figures say nothing about speed.**"]
    for section in sections:
        lines += ["", f"## {section.title}", "", section.about, ""]
        lines += [
            "| measure | t212-etl | unit | reference | reference value | ratio | target | met |",
            "| --- | ---: | --- | --- | ---: | ---: | --- | --- |",
        ]
        for row in section.rows:
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
            lines.append(
                f"| {row.measure} | {_number(row.value)} | {row.unit} | {row.reference} | "
                f"{_number(row.reference_value)} | {ratio} | {row.target} | {met} |"
            )
        if section.notes:
            lines += ["", *(f"- {note}" for note in section.notes)]
    return "\n".join(lines) + "\n"
