"""The Trading 212 HTTP client: auth, rate limits, retries, exact JSON and per-endpoint counters."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from extractors.answers import ApiResponse, EndpointStats, decode_json
from extractors.auth import Credentials, is_loopback, resolve_base_url
from extractors.errors import (
    DeadlineExceeded,
    MalformedResponse,
    RateLimited,
    Refusal,
    RetriesExhausted,
    T212Error,
    TransportError,
    describe_body,
    error_for_status,
)
from extractors.logs import watch
from extractors.pagination import PageSource, iterate_pages
from extractors.ratelimit import RateLimiter, parse_retry_after
from extractors.redaction import Redactor
from extractors.retry import RetryPolicy
from extractors.transfer import USER_AGENT, Overdue, phase_timeouts, read_within, tls_context

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The longest one attempt may take, first byte sent to last byte read. The largest answer
# (the instrument list, 3.5-5 MB) needs 40 s at 1 Mbit/s; a page of 50 history items
# (about 50 KB) needs well under a second. A server that drips its answer costs at most
# this per attempt, and the endpoint's window (50 s at most) has passed by then.
DEFAULT_TOTAL_TIMEOUT = 120.0


@dataclass(frozen=True)
class ClientOptions:
    """How a client paces, retries and bounds its requests; the defaults suit the real API.

    ``total_timeout`` bounds one attempt in seconds, however slowly the bytes come;
    ``deadline`` is a time on the client's clock after which nothing is sent and no wait
    goes on (DeadlineExceeded); ``on_wait`` hears of every wait (endpoint, seconds).
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: Mapping[str, tuple[int, float]] | None = None
    timeout: httpx.Timeout | float = field(default_factory=lambda: DEFAULT_TIMEOUT)
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    deadline: float | None = None
    on_wait: Callable[[str, float], None] | None = None
    transport: httpx.BaseTransport | None = None


@dataclass(frozen=True)
class ClientClock:
    """A client's sources of time and chance: the system's, or a test's fakes.

    ``now`` is Unix time, the unit of ``x-ratelimit-reset``.
    """

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random


@dataclass(frozen=True)
class _Call:
    """One logical request: what is sent, and the names of its endpoint."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json_body: Any = None

    @property
    def endpoint(self) -> str:
        """The path without its query."""
        return self.path.split("?", 1)[0]

    @property
    def what(self) -> str:
        """``METHOD endpoint``, as waits and deadlines name it."""
        return f"{self.method} {self.endpoint}"

    @property
    def limiter_key(self) -> str:
        """The rate limiter's name: the endpoint, with the method when it is not a GET."""
        return self.what if self.method != "GET" else self.endpoint


class T212Client:
    """One account's client. The only place that authenticates, limits and retries."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        env: str | None = "live",
        base_url: str | None = None,
        options: ClientOptions | None = None,
        clock: ClientClock | None = None,
    ):
        """A client of ``env`` (or ``base_url``) with ``options``, on the system's clock
        unless ``clock`` is given."""
        options = options or ClientOptions()
        clock = clock or ClientClock()
        self.base_url = resolve_base_url(env, base_url)
        self._credentials = credentials
        self.redactor = Redactor(credentials.secrets())
        watch(self.redactor)
        self.retry = options.retry
        self.limiter = RateLimiter(options.limits, clock=clock.now, sleep=self._wait)
        self._clock = clock.now
        self._sleep = clock.sleep
        self._on_wait = options.on_wait
        self._random = clock.random
        timeout = options.timeout
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.total_timeout = options.total_timeout
        self.deadline = options.deadline
        self.stats: dict[str, EndpointStats] = {}
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=options.transport,
            timeout=timeout,
            verify=tls_context(),
            # a proxy would see the Basic header of a plain-http loopback request
            trust_env=not is_loopback(urlsplit(self.base_url).hostname or ""),
            follow_redirects=False,  # never carry credentials to another host
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._waiting_on = threading.local()  # history endpoints are fetched from threads

    def __repr__(self) -> str:
        return f"T212Client(base_url={self.base_url!r}, credentials=***)"

    def __enter__(self) -> T212Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def secrets(self) -> tuple[str, ...]:
        """Strings that must be redacted from any output."""
        return self._credentials.secrets()

    def redact_error(self, exc: T212Error) -> T212Error:
        """``exc`` (and the error it wraps) with every credential masked, changed in place.

        Every error leaving the client passes here, whatever server text it quotes.
        """
        for error in (exc, getattr(exc, "last", None)):
            if isinstance(error, T212Error):
                error.args = tuple(self.redactor(str(a)) for a in error.args)
                if getattr(error, "scope", None):
                    error.scope = self.redactor(error.scope)
        return exc

    def time_left(self) -> float | None:
        """Seconds until the run's deadline (None without one; never negative)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self._clock())

    def _wait(self, seconds: float) -> None:
        """Every wait of the client: reported, and refused when it would end past the deadline."""
        endpoint = getattr(self._waiting_on, "endpoint", "")
        left = self.time_left()
        if left is not None and seconds > left:
            raise DeadlineExceeded(getattr(self._waiting_on, "what", endpoint), path=endpoint)
        if self._on_wait is not None:
            self._on_wait(endpoint, seconds)
        self._sleep(seconds)

    def _endpoint_stats(self, endpoint: str) -> EndpointStats:
        return self.stats.setdefault(endpoint, EndpointStats())

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> ApiResponse:
        """GET ``path`` and decode its JSON, retrying transient failures within bounds."""
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        recover: Callable[[], ApiResponse | None] | None = None,
    ) -> ApiResponse:
        """Send one logical request; retries 429, 408, 5xx, transport errors and bad bodies.

        ``recover`` is for a request that must not be repeated blindly (a POST that makes
        something): after a failure the server may have acted on (anything but a 429), it
        is called before the request is sent again, and what it returns (the answer found
        by other means) is returned instead; None sends the request again.
        """
        try:
            return self._request(_Call(method, path, params, json_body), recover)
        except T212Error as exc:
            self.redact_error(exc)
            raise

    def _request(
        self, call: _Call, recover: Callable[[], ApiResponse | None] | None
    ) -> ApiResponse:
        endpoint, limiter_key = call.endpoint, call.limiter_key
        stats = self._endpoint_stats(endpoint)
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            self._waiting_on.endpoint, self._waiting_on.what = endpoint, call.what
            if self.time_left() == 0.0:
                raise DeadlineExceeded(call.what, path=endpoint)
            slept = self.limiter.acquire(limiter_key)
            stats.wait_seconds += slept
            waited += slept
            try:
                return self._send_once(call, stats)
            except T212Error as exc:
                if not exc.retriable:
                    raise
                if recover is not None and not isinstance(exc, RateLimited):
                    found = recover()
                    if found is not None:
                        return found
                    # recover's own requests named theirs; the waits below are this one's
                    self._waiting_on.endpoint, self._waiting_on.what = endpoint, call.what
                if attempt >= self.retry.max_attempts or waited >= self.retry.max_total_wait:
                    raise RetriesExhausted(exc, attempt, waited) from None
                stats.retries += 1
                if not isinstance(exc, RateLimited):
                    delay = self.retry.backoff(attempt, self._random())
                    if exc.retry_after is not None:
                        delay = min(exc.retry_after, self.limiter.bound(limiter_key))
                    self._wait(delay)
                    stats.wait_seconds += delay
                    waited += delay
                # For 429 the limiter now knows the window is spent and waits for its reset.

    def _send_once(self, call: _Call, stats: EndpointStats) -> ApiResponse:
        method, path, limiter_key = call.method, call.path, call.limiter_key
        stats.requests += 1
        left = self.time_left()
        budget = self.total_timeout if left is None else min(self.total_timeout, left)
        request = self._http.build_request(
            method,
            path,
            params=call.params,
            json=call.json_body,
            headers={"Authorization": self._credentials.basic_header()},
            timeout=phase_timeouts(self._timeout, budget),
        )
        started, sent_at = time.monotonic(), self._clock()
        try:
            response = self._http.send(request, stream=True)
            try:
                body = read_within(response, started + budget)
            finally:
                response.close()
        except (httpx.TimeoutException, Overdue):
            # the attempt lasted until the run's deadline (a socket may time out a hair early)
            if left is not None and time.monotonic() - started >= left - 0.01:
                raise DeadlineExceeded(call.what, path=call.endpoint) from None
            raise TransportError(
                f"{method} {path}: timed out (no whole answer within {budget:g} s)", path=path
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(
                f"{method} {path}: connection failed ({type(exc).__name__})", path=path
            ) from None
        stats.bytes += len(body)
        self.limiter.observe(limiter_key, response.headers, sent_at)
        status = response.status_code
        content_type = response.headers.get("content-type")
        retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock())
        if status == 429:
            stats.rate_limited += 1
            self.limiter.spent(limiter_key, retry_after)
        if not 200 <= status < 300:
            refusal = Refusal(method, path, status, body, content_type)
            error = error_for_status(refusal, self.redactor)
            if status == 503:
                error.retry_after = retry_after
            raise error
        try:
            data = decode_json(body)
        except ValueError:
            raise MalformedResponse(
                f"{method} {path}: HTTP {status} with a body that is not valid JSON "
                f"({describe_body(body, content_type, self.redactor)})",
                status=status,
                path=path,
            ) from None
        return ApiResponse(path, str(response.url), status, body, data)

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, max_pages: int = 100_000
    ) -> Iterator[ApiResponse]:
        """Pages of a history endpoint, newest first; close the iterator to stop early."""
        source = PageSource(self.get, self.base_url, self.redactor)
        pages = iterate_pages(source, path, params, max_pages=max_pages)
        return self._redacting(pages)

    def _redacting(self, pages: Iterator[ApiResponse]) -> Iterator[ApiResponse]:
        try:
            yield from pages
        except T212Error as exc:
            self.redact_error(exc)
            raise
