"""Settings: one account from the environment or .env, several from t212-etl.toml."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import field, fields
from pathlib import Path
from typing import Annotated

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from extractors.auth import Credentials, resolve_base_url
from transforms.portfolio import DEFAULT_WRAPPER, WRAPPERS

CONFIG_NAME = "t212-etl.toml"
# under a day, so a nightly run never runs into the next night's
DEFAULT_TIME_LIMIT_HOURS = 23.0
# accounts exported at once: each has its own rate limits, so they wait side by side
DEFAULT_PARALLEL_ACCOUNTS = 64
_STORAGE_SCHEMES = ("s3", "gs", "az", "abfs", "file")
_LITERAL_SECRET_KEYS = {"key", "secret", "api_key", "api_secret", "password", "token"}
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# the lake's name of the worker of every account: no account (or group) may take it
ALL_ACCOUNTS = "warehouse"
# the one line for a value of the wrong type or range, by field (never echoing the value)
_REFUSALS = {
    "reference_max_age_hours": "[export] reference_max_age_hours must be a number of hours",
    "overlap_days": "[export] overlap_days must be a number of days",
    "with_reports": "[export] with_reports must be true or false",
    "reports_start_year": "[export] reports_start_year must be a year",
    "run_time_limit_hours": "[export] run_time_limit_hours must be a number of hours (0: none)",
    "parallel_accounts": "[export] parallel_accounts must be from 1 to 256",
    "base_currency": 'base_currency must be a three-letter currency code such as "GBP"',
}


class SettingsError(Exception):
    """A configuration problem, worded as the one line a user needs to fix it."""


def _wrapper(value: object) -> str:
    """An account's tax wrapper, ``invest`` when not given."""
    if value is None or value == "":
        return DEFAULT_WRAPPER
    if value not in WRAPPERS:
        choices = " or ".join(f'"{w}"' for w in WRAPPERS)
        raise ValueError(f"wrapper must be {choices}, not {value!r:.20}")
    return str(value)


@dataclass(frozen=True, config=ConfigDict(extra="forbid", coerce_numbers_to_str=True))
class AccountConfig:
    """One account: a name, its environment, and where its key and secret come from."""

    name: str
    env: str = "live"
    base_url: str | None = None
    key_env: str | None = None
    secret_env: str | None = None
    key_block: str | None = None
    secret_block: str | None = None
    # the tax wrapper: "invest" (taxable) or "isa" (a Stocks ISA, free of capital gains tax)
    wrapper: Annotated[str, BeforeValidator(_wrapper)] = DEFAULT_WRAPPER

    @model_validator(mode="after")
    def _check_sources(self) -> AccountConfig:
        """Both secrets have a source, and the base URL is one the key may be sent to."""
        if not (self.key_env or self.key_block) or not (self.secret_env or self.secret_block):
            raise ValueError(
                "say where its key and secret come from "
                "(key_env and secret_env, or key_block and secret_block)"
            )
        resolve_base_url(self.env, self.base_url)
        return self

    def credentials(self, environ: Mapping[str, str]) -> Credentials:
        """Read the key and secret from their sources (environment or Prefect Secret blocks)."""
        key = _read_secret(self.name, "key", self.key_env, self.key_block, environ)
        secret = _read_secret(self.name, "secret", self.secret_env, self.secret_block, environ)
        return Credentials(key, secret)


_Hours = Annotated[float, Field(strict=True, ge=0, lt=1e6)]
_TimeLimit = Annotated[_Hours | None, AfterValidator(lambda hours: hours or None)]
_Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$"), AfterValidator(str.upper)]


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides its command-line flags."""

    data_dir: Path
    accounts: tuple[AccountConfig, ...]
    reference_max_age_hours: float = 12.0
    overlap_days: float = 2.0
    with_reports: Annotated[bool, Field(strict=True)] = False
    reports_start_year: Annotated[int | None, Field(strict=True, ge=2000, le=2100)] = None
    # A run stops cleanly after this long (None: never), so that a stuck server or an
    # endless walk cannot hold the lock into the next night's run.
    run_time_limit_hours: _TimeLimit = DEFAULT_TIME_LIMIT_HOURS
    # the currency the portfolio views also convert to (None: account currencies only)
    base_currency: _Currency | None = None
    # where the lake lives (s3://, gs://, az://, file://); None keeps everything local
    storage_url: str | None = None
    parallel_accounts: Annotated[int, Field(strict=True, ge=1, le=256)] = DEFAULT_PARALLEL_ACCOUNTS
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def account(self, name: str) -> AccountConfig:
        """The account called ``name``."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise SettingsError(f"unknown account {name!r}; configured accounts: {known}")


# the keys of [export]: the fields of Settings read from no other place; others are ignored
_EXPORT_KEYS = {f.name for f in fields(Settings)} - {
    "data_dir", "accounts", "base_currency", "storage_url", "environ"
}  # fmt: skip


def _refusal(error: ValidationError, where: str = "") -> SettingsError:
    """The one line for the first problem validation found, never echoing a value."""
    problems = error.errors()
    unknown = sorted(str(p["loc"][0]) for p in problems if p["type"].startswith("unexpected"))
    if unknown:
        return SettingsError(f"{where}unknown setting(s) {unknown}")
    first = problems[0]
    if first["type"] == "value_error":
        return SettingsError(f"{where}{first['ctx']['error']}")
    name = str(first["loc"][0])
    return SettingsError(f"{CONFIG_NAME}: {_REFUSALS.get(name, f'{name} has a wrong value')}")


def _read_secret(
    account: str, what: str, env_name: str | None, block: str | None, environ: Mapping[str, str]
) -> str:
    if block:
        from prefect.blocks.system import Secret  # only when a block is configured

        try:
            return Secret.load(block).get()
        except Exception as exc:  # the block API raises several types; all mean "not readable"
            raise SettingsError(
                f"account {account}: cannot read the Prefect Secret block {block!r} for the "
                f"{what} ({type(exc).__name__}); create it with `prefect block create secret`"
            ) from None
    if env_name and environ.get(env_name):
        return environ[env_name]
    raise SettingsError(
        f"account {account}: no API {what}: set the environment variable "
        f"{env_name or ('T212_API_' + what.upper())}"
    )


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file, read by python-dotenv's rules (quotes, ``export``,
    inline comments); values are taken literally, never ``${...}``-expanded."""
    if not path.is_file():
        return {}
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {name: value for name, value in values.items() if value is not None}


def _account_from_table(entry: Mapping[str, object], index: int) -> AccountConfig:
    literal = sorted(_LITERAL_SECRET_KEYS & set(entry))
    if literal:
        raise SettingsError(
            f"{CONFIG_NAME}: account #{index} holds a literal secret ({', '.join(literal)}); "
            "secrets never live in this file: use key_env/secret_env (environment variable "
            "names) or key_block/secret_block (Prefect Secret block names)"
        )
    name = str(entry.get("name") or "")
    if not _ACCOUNT_NAME.match(name):
        raise SettingsError(
            f"{CONFIG_NAME}: account #{index} needs a name of letters, digits, '.', '_' or '-'"
        )
    if name.lower() == ALL_ACCOUNTS:
        raise SettingsError(
            f"{CONFIG_NAME}: account name {name!r} is reserved for the worker of every "
            "account: rename the account"
        )
    try:
        return AccountConfig(**entry)
    except ValidationError as error:
        raise _refusal(error, f"{CONFIG_NAME}: account {name}: ") from None


def _account_from_environment(env: Mapping[str, str]) -> AccountConfig:
    """The one account of ``T212_API_KEY`` and ``T212_API_SECRET`` when the file names none."""
    try:
        return AccountConfig(
            name="default",
            env=env.get("T212_ENV", "live"),
            base_url=env.get("T212_BASE_URL") or None,
            key_env="T212_API_KEY",
            secret_env="T212_API_SECRET",
            wrapper=env.get("T212_WRAPPER"),
        )
    except ValidationError as error:
        raise _refusal(error, "T212_WRAPPER: ") from None


def _read_document(path: Path, required: bool) -> dict[str, object]:
    """The TOML document at ``path``; empty when it is absent and was not asked for."""
    if not (required or path.is_file()):
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def load_settings(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    storage_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Settings from the config file (when given or present), .env and the environment."""
    cwd = cwd or Path.cwd()
    env = {**read_dotenv(cwd / ".env"), **(os.environ if environ is None else environ)}
    document = _read_document(Path(config) if config else cwd / CONFIG_NAME, bool(config))
    entries = document.get("accounts") or []
    if not isinstance(entries, list):
        raise SettingsError(f"{CONFIG_NAME}: use [[accounts]] tables for accounts")
    accounts = tuple(_account_from_table(e, i) for i, e in enumerate(entries, 1))
    if len({a.name for a in accounts}) != len(accounts):
        raise SettingsError(f"{CONFIG_NAME}: two accounts share a name")
    export = document.get("export") or {}
    if not isinstance(export, dict):
        raise SettingsError(f"{CONFIG_NAME}: [export] must be a table")
    url = storage_url or env.get("T212_STORAGE_URL") or document.get("storage_url")
    try:
        return Settings(
            data_dir=data_dir or env.get("T212_DATA_DIR") or document.get("data_dir") or "data",
            accounts=accounts or (_account_from_environment(env),),
            base_currency=document.get("base_currency") or env.get("T212_BASE_CURRENCY") or None,
            storage_url=_storage_url(url),
            environ=env,
            **{key: value for key, value in export.items() if key in _EXPORT_KEYS},
        )
    except ValidationError as error:
        raise _refusal(error) from None


def _storage_url(value: object) -> str | None:
    """``storage_url``: a bucket URL with an optional prefix, never carrying credentials."""
    if value is None or value == "":
        return None
    hint = (
        'give one such as "s3://bucket/prefix", "gs://bucket", "az://container" or "file:///path"'
    )
    if not isinstance(value, str) or "://" not in value:
        raise SettingsError(f"storage_url must be a URL; {hint}")
    scheme, rest = value.split("://", 1)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        # not a scheme: never echo it, it may hold a secret
        raise SettingsError(f"storage_url must be a URL; {hint}")
    if scheme not in _STORAGE_SCHEMES or not rest.strip("/"):
        raise SettingsError(f"storage_url {scheme}://… is not supported; {hint}")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    if ":" in userinfo or "?" in rest:  # user:password@ or a ?signature=… token
        # never echo the value: it may hold a secret
        raise SettingsError(
            "storage_url must not carry credentials; the cloud's own chain supplies them "
            "(environment variables, a profile or an instance role)"
        )
    if scheme == "file":
        _check_local_root(rest)
    return value.rstrip("/")


def _check_local_root(path: str) -> None:
    """A ``file://`` store's root must be an absolute path to a folder that exists."""
    if not path.startswith("/"):
        raise SettingsError(
            f"storage_url file://{path} is not an absolute path: write three slashes and the "
            'whole path, as in "file:///srv/lake"'
        )
    root = Path(path)
    if not root.exists():
        raise SettingsError(f"storage_url file://{path}: the folder does not exist; create it")
    if not root.is_dir():
        raise SettingsError(f"storage_url file://{path} is not a folder")
