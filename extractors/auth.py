"""Credentials that never show themselves, and the base-URL rule that protects them."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from extractors.errors import ConfigurationError

ENVIRONMENTS = {
    "live": "https://live.trading212.com",
    "demo": "https://demo.trading212.com",
}


@dataclass(frozen=True)
class Credentials:
    """An API key and secret; ``repr`` and ``str`` show neither."""

    key: str = field(repr=False)
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key or not self.secret:
            raise ConfigurationError(
                "API key or secret is empty: set T212_API_KEY and T212_API_SECRET "
                "(generate a key pair in Trading 212 under Settings > API)"
            )

    def __repr__(self) -> str:
        return "Credentials(key=***, secret=***)"

    __str__ = __repr__

    def basic_header(self) -> str:
        """The value of the ``Authorization`` header (HTTP Basic)."""
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode("ascii")
        return f"Basic {token}"

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in any output."""
        return (self.key, self.secret, self.basic_header().split(" ", 1)[1])


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(env: str | None, base_url: str | None) -> str:
    """The base URL for an environment or an override, refusing clear text off loopback."""
    if base_url:
        url = base_url.rstrip("/")
    else:
        name = (env or "live").lower()
        if name not in ENVIRONMENTS:
            raise ConfigurationError(
                f"unknown T212_ENV {env!r}: use 'live' or 'demo' (or set T212_BASE_URL)"
            )
        url = ENVIRONMENTS[name]
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"base URL {url!r} is not an http(s) URL with a host")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing to send credentials in clear text to {parts.hostname}: "
            "use an https:// base URL (plain http is allowed only for loopback addresses)"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ConfigurationError(
            f"base URL {url!r} must be scheme and host only, e.g. https://live.trading212.com"
        )
    return url
