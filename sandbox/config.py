"""Configuration of the sandbox: accounts, key pairs, sizes, clock and rate limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Obviously fake demo credentials; they only open the local sandbox.
DEMO_KEY = "sandbox-demo-key-invest-0000"
DEMO_SECRET = "sandbox-demo-secret-invest-0000"
DEMO_ISA_KEY = "sandbox-demo-key-isa-0000"
DEMO_ISA_SECRET = "sandbox-demo-secret-isa-0000"

DEMO_ACCOUNT_ID = 21200101
DEMO_ISA_ACCOUNT_ID = 21200102

ALL_SCOPES = frozenset(
    {
        "account",
        "portfolio",
        "metadata",
        "orders:read",
        "history:orders",
        "history:dividends",
        "history:transactions",
    }
)

API = "/api/v0/equity"

# (method, path) -> (requests, seconds): the documented per-account limits.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    f"GET {API}/account/summary": (1, 5.0),
    f"GET {API}/positions": (1, 1.0),
    f"GET {API}/orders": (1, 5.0),
    f"GET {API}/metadata/instruments": (1, 50.0),
    f"GET {API}/metadata/exchanges": (1, 30.0),
    f"GET {API}/history/dividends": (6, 60.0),
    f"GET {API}/history/orders": (6, 60.0),
    f"GET {API}/history/transactions": (6, 60.0),
    f"GET {API}/history/exports": (1, 60.0),
    f"POST {API}/history/exports": (1, 30.0),
}

# The simulated "now" at start; data never depends on the wall clock.
DEFAULT_NOW = datetime(2025, 6, 30, 20, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SandboxSize:
    """How much data one account holds: instrument list, open positions and history."""

    instruments: int = 3000
    positions: int = 30
    dividends: int = 600
    orders: int = 1500
    transactions: int = 1000
    years: float = 5.0

    def __post_init__(self) -> None:
        if self.instruments < 20:
            raise ValueError("instruments must be at least 20")
        if not 1 <= self.positions <= min(200, self.instruments // 2):
            raise ValueError("positions must be between 1 and min(200, instruments / 2)")
        if min(self.dividends, self.orders, self.transactions) < 0:
            raise ValueError("history sizes must not be negative")
        if self.years <= 0:
            raise ValueError("years must be positive")


@dataclass(frozen=True)
class AccountSpec:
    """One account served by the sandbox and the key pair that opens it.

    ``other_keys`` are more (key, secret) pairs of the same account: one rate-limit budget.
    ``history_days``, when set, is the JSON history endpoints' horizon: items older than
    that many days before the account's clock are not served (the CSV exports still are).
    """

    account_id: int
    currency: str
    key: str
    secret: str
    kind: str = "invest"
    scopes: frozenset[str] = ALL_SCOPES
    size: SandboxSize = field(default_factory=SandboxSize)
    other_keys: tuple[tuple[str, str], ...] = ()
    history_days: int | None = None

    def __post_init__(self) -> None:
        if self.history_days is not None and self.history_days < 1:
            raise ValueError("history_days must be at least 1")
        if self.kind not in ("invest", "isa"):
            raise ValueError("kind must be 'invest' or 'isa'")
        if self.currency not in ("EUR", "GBP", "USD", "CHF", "CAD"):
            raise ValueError(f"unsupported account currency {self.currency!r}")
        unknown = set(self.scopes) - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}")

    def key_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (key, secret) that opens the account, its own first."""
        return ((self.key, self.secret), *self.other_keys)


def default_accounts() -> tuple[AccountSpec, ...]:
    """An Invest account in EUR and a Stocks ISA in GBP, each with its own demo key pair."""
    return (
        AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest"),
        AccountSpec(
            DEMO_ISA_ACCOUNT_ID,
            "GBP",
            DEMO_ISA_KEY,
            DEMO_ISA_SECRET,
            "isa",
            size=SandboxSize(positions=22, dividends=350, orders=700, transactions=600, years=4),
        ),
    )


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that determines what the sandbox serves; equal configs serve equal bytes.

    time_scale multiplies every rate-limit window and simulated delay (0.001 turns 60 s
    into 60 ms). rate_limits overrides the documented limits per "METHOD path".
    burst_limit, when set, refuses (429) more than that many requests to one endpoint of
    an account within one (scaled) second, as a server that asks for even spacing may.
    slow_seconds is how long 'slow' waits before answering; drip_seconds the pause
    between two bytes of a 'drip' answer.
    """

    seed: int = 212
    time_scale: float = 1.0
    accounts: tuple[AccountSpec, ...] = field(default_factory=default_accounts)
    host: str = "127.0.0.1"
    port: int = 0
    now: datetime = DEFAULT_NOW
    extra_fields: bool = False
    slow_seconds: float = 30.0
    drip_seconds: float = 1.0
    report_seconds: float = 6.0
    rate_limits: Mapping[str, tuple[int, float]] | None = None
    burst_limit: int | None = None

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.burst_limit is not None and self.burst_limit < 1:
            raise ValueError("burst_limit must be at least 1")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        ids = [a.account_id for a in self.accounts]
        keys = [key for a in self.accounts for key, _ in a.key_pairs()]
        if len(set(ids)) != len(ids) or len(set(keys)) != len(keys):
            raise ValueError("account ids and keys must be unique")
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")

    def limits(self) -> dict[str, tuple[int, float]]:
        """The effective per-endpoint limits (unscaled seconds)."""
        merged = dict(DEFAULT_RATE_LIMITS)
        merged.update(self.rate_limits or {})
        return merged
