"""Settings: one account from the environment or .env, several from t212-etl.toml."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

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


class SettingsError(Exception):
    """A configuration problem, worded as the one line a user needs to fix it."""


@dataclass(frozen=True)
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
    wrapper: str = DEFAULT_WRAPPER

    def credentials(self, environ: Mapping[str, str]) -> Credentials:
        """Read the key and secret from their sources (environment or Prefect Secret blocks)."""
        key = _read_secret(self.name, "key", self.key_env, self.key_block, environ)
        secret = _read_secret(self.name, "secret", self.secret_env, self.secret_block, environ)
        return Credentials(key, secret)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides its command-line flags."""

    data_dir: Path
    accounts: tuple[AccountConfig, ...]
    reference_max_age_hours: float = 12.0
    overlap_days: float = 2.0
    with_reports: bool = False
    reports_start_year: int | None = None
    # A run stops cleanly after this long (None: never), so that a stuck server or an
    # endless walk cannot hold the lock into the next night's run.
    run_time_limit_hours: float | None = DEFAULT_TIME_LIMIT_HOURS
    # the currency the portfolio views also convert to (None: account currencies only)
    base_currency: str | None = None
    # where the lake lives (s3://, gs://, az://, file://); None keeps everything local
    storage_url: str | None = None
    parallel_accounts: int = DEFAULT_PARALLEL_ACCOUNTS
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def account(self, name: str) -> AccountConfig:
        """The account called ``name``."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise SettingsError(f"unknown account {name!r}; configured accounts: {known}")


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
    allowed = {"name", "env", "base_url", "key_env", "secret_env", "key_block", "secret_block"}
    allowed |= {"wrapper"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SettingsError(f"{CONFIG_NAME}: account {name}: unknown setting(s) {unknown}")
    account = AccountConfig(**{k: str(v) for k, v in entry.items() if k != "wrapper"})
    account = replace(
        account, wrapper=_wrapper(entry.get("wrapper"), f"{CONFIG_NAME}: account {name}")
    )
    if not (account.key_env or account.key_block) or not (
        account.secret_env or account.secret_block
    ):
        raise SettingsError(
            f"{CONFIG_NAME}: account {name}: say where its key and secret come from "
            "(key_env and secret_env, or key_block and secret_block)"
        )
    resolve_base_url(account.env, account.base_url)
    return account


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
    config_path = Path(config) if config else cwd / CONFIG_NAME
    document: dict[str, object] = {}
    if config or config_path.is_file():
        try:
            document = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {config_path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"config file {config_path} is not valid TOML: {exc}") from None
    entries = document.get("accounts") or []
    if not isinstance(entries, list):
        raise SettingsError(f"{CONFIG_NAME}: use [[accounts]] tables for accounts")
    accounts = tuple(_account_from_table(e, i) for i, e in enumerate(entries, 1))
    if len({a.name for a in accounts}) != len(accounts):
        raise SettingsError(f"{CONFIG_NAME}: two accounts share a name")
    if not accounts:
        environment = env.get("T212_ENV", "live")
        resolve_base_url(environment, env.get("T212_BASE_URL"))
        accounts = (
            AccountConfig(
                name="default",
                env=environment,
                base_url=env.get("T212_BASE_URL") or None,
                key_env="T212_API_KEY",
                secret_env="T212_API_SECRET",
                wrapper=_wrapper(env.get("T212_WRAPPER"), "T212_WRAPPER"),
            ),
        )
    export = document.get("export") or {}
    if not isinstance(export, dict):
        raise SettingsError(f"{CONFIG_NAME}: [export] must be a table")
    return Settings(
        data_dir=Path(data_dir or env.get("T212_DATA_DIR") or document.get("data_dir") or "data"),
        accounts=accounts,
        reference_max_age_hours=float(export.get("reference_max_age_hours", 12.0)),
        overlap_days=float(export.get("overlap_days", 2.0)),
        **_report_settings(export),
        run_time_limit_hours=_time_limit(export),
        base_currency=_base_currency(
            document.get("base_currency") or env.get("T212_BASE_CURRENCY")
        ),
        storage_url=_storage_url(
            storage_url or env.get("T212_STORAGE_URL") or document.get("storage_url")
        ),
        parallel_accounts=_parallel_accounts(export),
        environ=env,
    )


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


def _parallel_accounts(export: Mapping[str, object]) -> int:
    """``parallel_accounts`` of ``[export]``: how many accounts are exported at once."""
    value = export.get("parallel_accounts", DEFAULT_PARALLEL_ACCOUNTS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise SettingsError(f"{CONFIG_NAME}: [export] parallel_accounts must be from 1 to 256")
    return value


def _wrapper(value: object, where: str) -> str:
    """An account's tax wrapper, ``invest`` when not given."""
    if value is None or value == "":
        return DEFAULT_WRAPPER
    if value not in WRAPPERS:
        choices = " or ".join(f'"{w}"' for w in WRAPPERS)
        raise SettingsError(f"{where}: wrapper must be {choices}, not {value!r:.20}")
    return str(value)


def _base_currency(value: object) -> str | None:
    """``base_currency``: a three-letter ISO code such as GBP, or nothing."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise SettingsError(
            f'{CONFIG_NAME}: base_currency must be a three-letter currency code such as "GBP"'
        )
    return value.upper()


def _report_settings(export: Mapping[str, object]) -> dict[str, object]:
    """``with_reports`` (a boolean) and ``reports_start_year`` (a year) of ``[export]``."""
    with_reports = export.get("with_reports", False)
    if not isinstance(with_reports, bool):
        raise SettingsError(f"{CONFIG_NAME}: [export] with_reports must be true or false")
    start = export.get("reports_start_year")
    if start is not None and (not isinstance(start, int) or not 2000 <= start <= 2100):
        raise SettingsError(f"{CONFIG_NAME}: [export] reports_start_year must be a year")
    return {"with_reports": with_reports, "reports_start_year": start}


def _time_limit(export: Mapping[str, object]) -> float | None:
    """``run_time_limit_hours`` of ``[export]``: hours, 0 for no limit."""
    hours = export.get("run_time_limit_hours", DEFAULT_TIME_LIMIT_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours < 1e6:
        raise SettingsError(
            f"{CONFIG_NAME}: [export] run_time_limit_hours must be a number of hours (0: none)"
        )
    return float(hours) or None
