"""Whether a Prefect API is configured, found without importing Prefect where it can be.

Importing Prefect's settings costs about two seconds; a run that needs no Prefect
should not pay them. The answer is Prefect's own when a file Prefect reads could hold
the setting (a profile naming an API, ``prefect.toml``, ``pyproject.toml``, ``.env``).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

SETTING = "PREFECT_API_URL"


def _profiles(environ: Mapping[str, str]) -> Path:
    """The user's profiles file, where Prefect looks for it."""
    if environ.get("PREFECT_PROFILES_PATH"):
        return Path(environ["PREFECT_PROFILES_PATH"]).expanduser()
    home = Path(environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    return home / "profiles.toml"


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _profile_url(environ: Mapping[str, str]) -> str | None:
    """The API URL of the active profile, from the user's profiles over Prefect's defaults."""
    user = _read_toml(_profiles(environ))
    spec = importlib.util.find_spec("prefect")
    places = spec.submodule_search_locations if spec else None
    defaults = _read_toml(Path(places[0]) / "settings" / "profiles.toml") if places else {}
    active = environ.get("PREFECT_PROFILE") or user.get("active") or defaults.get("active")
    profile = {
        **defaults.get("profiles", {}).get(active, {}),
        **user.get("profiles", {}).get(active, {}),
    }
    return profile.get(SETTING)


def _local_files_may_set_it(cwd: Path) -> bool:
    """Whether a settings file Prefect reads in ``cwd`` may set the API URL."""
    marks = {"prefect.toml": "", "pyproject.toml": "tool.prefect", ".env": SETTING}
    for name, mark in marks.items():
        try:
            text = (cwd / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if mark in text:
            return True
    return False


def api_configured(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> bool:
    """Whether Prefect would send a flow run to a configured API (not a temporary server)."""
    environ = os.environ if environ is None else environ
    if SETTING in environ:
        return bool(environ[SETTING])
    if _profile_url(environ):
        return True
    if not _local_files_may_set_it(cwd or Path.cwd()):
        return False
    from prefect.settings import PREFECT_API_URL  # a file may set it: Prefect decides

    return bool(PREFECT_API_URL.value())
