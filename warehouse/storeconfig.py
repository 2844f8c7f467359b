"""How the store's clients are set up: bounded waits, and options from the environment.

One place for the timeouts and retries of every request to the store, whether obstore
or Delta Lake sends it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

# Every request to the store, from obstore or from Delta, is bounded: connected within
# CONNECT_SECONDS, answered within the request timeout (object_store's own default of 30 s,
# which a large part upload still meets), and retried only while the first attempt is
# younger than the timeout. A store that does not answer therefore fails a call within
# about twice the timeout: a minute. T212_STORAGE_TIMEOUT (seconds) scales all of them.
TIMEOUT_ENV = "T212_STORAGE_TIMEOUT"
TIMEOUT_SECONDS = 30.0
CONNECT_SECONDS = 5.0
MAX_RETRIES = 3
# the client settings a store reads from its environment (AWS_ALLOW_HTTP, ...): passing
# our own replaces them, so they are carried over
_CLIENT_KEYS = (
    "allow_http", "allow_invalid_certificates", "connect_timeout", "proxy_url",
    "proxy_ca_certificate", "proxy_excludes", "timeout", "user_agent",
)  # fmt: skip
_ENV_PREFIX = {"s3": "AWS_", "gs": "GOOGLE_", "az": "AZURE_", "abfs": "AZURE_", "abfss": "AZURE_"}


def timeouts(environ: Mapping[str, str] | None = None) -> tuple[float, float]:
    """The request and connect timeouts in seconds (``T212_STORAGE_TIMEOUT`` or 30 s)."""
    env = os.environ if environ is None else environ
    try:
        request = float(env.get(TIMEOUT_ENV) or TIMEOUT_SECONDS)
    except ValueError:
        request = TIMEOUT_SECONDS
    request = request if request > 0 else TIMEOUT_SECONDS
    return request, min(CONNECT_SECONDS, request)


def _seconds(value: float) -> str:
    return f"{max(1, round(value * 1000))}ms"


def delta_options(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Storage options for Delta Lake: the store's timeouts, and S3 commits made safe for
    concurrent writers.

    Delta needs an atomic "create if absent" for its commit files. S3 has it as a
    conditional put (``If-None-Match``), which AWS and the S3-compatible stores support;
    a user who runs a DynamoDB lock instead sets ``AWS_S3_LOCKING_PROVIDER`` and this
    default steps aside.
    """
    env = os.environ if environ is None else environ
    if url.startswith("file://"):
        return {}
    request, connect = timeouts(env)
    options = {
        "timeout": _seconds(request),
        "connect_timeout": _seconds(connect),
        "max_retries": str(MAX_RETRIES),
        "retry_timeout": _seconds(request),
    }
    locking = env.get("AWS_S3_LOCKING_PROVIDER") or env.get("AWS_CONDITIONAL_PUT")
    if url.startswith("s3://") and not locking:
        options["AWS_CONDITIONAL_PUT"] = "etag"
    return options


def client_options(url: str, env: Mapping[str, str]) -> dict[str, Any]:
    """obstore's client options: the store's own from the environment, with the timeouts."""
    prefix = _ENV_PREFIX.get(url.partition("://")[0], "")
    options: dict[str, Any] = {
        key: env[f"{prefix}{key.upper()}"]
        for key in _CLIENT_KEYS
        if f"{prefix}{key.upper()}" in env
    }
    request, connect = timeouts(env)
    options["timeout"] = timedelta(seconds=request)
    options["connect_timeout"] = timedelta(seconds=connect)
    return options
