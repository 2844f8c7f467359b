"""Exported sandbox warehouses that several test modules start from: exported once, copied."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flows.harness import exported


def _copies(tmp_path_factory, names: tuple[str, ...]) -> Callable[[Path], Path]:
    template: list[Path] = []

    def copy(data_dir: Path) -> Path:
        if not template:
            template.append(exported(tmp_path_factory.mktemp("template") / "data", names))
        return Path(shutil.copytree(template[0], data_dir))

    return copy


@pytest.fixture(scope="session")
def invest_copy(tmp_path_factory) -> Callable[[Path], Path]:
    """``invest_copy(data_dir)``: ``data_dir`` holding the default sandbox account, exported
    in-process once a session and copied for each module."""
    return _copies(tmp_path_factory, ("invest",))


@pytest.fixture(scope="session")
def two_accounts_copy(tmp_path_factory) -> Callable[[Path], Path]:
    """``two_accounts_copy(data_dir)``: ``data_dir`` holding both sandbox accounts (Invest
    and ISA), exported in-process once a session and copied for each module."""
    return _copies(tmp_path_factory, ("invest", "isa"))
