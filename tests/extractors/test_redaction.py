"""Server text in messages: the key, the secret and their Basic token masked in any form, short."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import httpx
import pytest

from extractors.auth import Credentials
from extractors.client import ClientOptions, RetryPolicy, T212Client
from extractors.errors import T212Error
from extractors.redaction import SERVER_TEXT_LIMIT, Redactor
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.extractors.fakes import Script, fake_client, json_response
from tests.sandbox.conftest import small_config

KEY, SECRET = "odd/Key+with=chars&1234", "p@ss word:with?#%-Chars-5678"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
SUMMARY = "/api/v0/equity/account/summary"
DIVS = "/api/v0/equity/history/dividends"

FORMS = {
    "key": KEY,
    "secret": SECRET,
    "token": TOKEN,
    "header": f"Authorization: Basic {TOKEN}",
    "url-encoded": quote(SECRET, safe=""),
    "url-encoded lower-case": quote(KEY, safe="").lower(),
    "form-encoded": quote_plus(SECRET),
    "json-escaped": json.dumps(TOKEN.replace("/", "\\/"))[1:-1],
    "html-escaped": "p@ss word:with?#%-Chars-5678".replace("&", "&amp;"),
    "token unpadded": TOKEN.rstrip("="),
    "token url-safe": TOKEN.replace("+", "-").replace("/", "_"),
    "token cut short": TOKEN[:14],
    "secret cut at the start": SECRET[-12:],
    "key in other case": KEY.upper(),
}


def fragments(text: str, size: int = 8) -> set[str]:
    """Every run of ``size`` characters of ``text``."""
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def assert_clean(message: str) -> None:
    assert "\n" not in message
    lowered = message.lower()
    for form in (KEY, SECRET, TOKEN, quote(KEY, safe=""), quote(SECRET, safe="")):
        for piece in fragments(form):
            assert piece.lower() not in lowered, (piece, message)


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_form_of_a_credential_is_masked(form):
    redact = Redactor(Credentials(KEY, SECRET).secrets())
    text = f"upstream said: {form} (request refused)"
    masked = redact(text)
    assert masked.startswith("upstream said: ") and masked.endswith(" (request refused)")
    assert "***" in masked
    assert_clean(masked)


def test_text_without_credentials_is_left_alone_and_quotes_are_capped():
    redact = Redactor(Credentials(KEY, SECRET).secrets())
    assert redact("HTTP 503: Unavailable, try later") == "HTTP 503: Unavailable, try later"
    quoted = redact.quote(b"line one\r\nline\ttwo " + b"x" * 5000)
    assert quoted.startswith("line one line two xx") and quoted.endswith("...")
    assert len(quoted) <= SERVER_TEXT_LIMIT + 3
    # masked before the cut: a credential straddling the limit leaves no part behind
    straddling = redact.quote("y" * (SERVER_TEXT_LIMIT - 5) + TOKEN)
    assert_clean(straddling)


def test_tiny_test_credentials_do_not_mask_ordinary_text():
    assert Redactor(Credentials("k", "s").secrets())("keys and secrets") == "keys and secrets"


def make_client(script: Script) -> T212Client:
    return fake_client(
        script,
        credentials=(KEY, SECRET),
        retry=RetryPolicy(max_attempts=2, backoff_base=0),
        limits={SUMMARY: (100, 1.0), DIVS: (100, 1.0)},
    )


ECHO = f"request headers:\nAuthorization: Basic {TOKEN}\nx-echo: {quote(SECRET, safe='')}\n"


def text(status: int, body: str, ctype: str = "text/plain") -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": ctype})


ANSWERS = {
    "5xx text": text(502, ECHO),
    "5xx html": text(502, f"<pre>{ECHO}</pre>", "text/html"),
    "5xx json": json_response({"code": "Upstream", "message": ECHO * 50}, 500),
    "400 json": json_response({"code": "BadRequest", "message": f"bad key {KEY}"}, 400),
    "403 scope": json_response({"message": f"Scope( {SECRET[5:14]} ) missing for API key"}, 403),
    "403 other": json_response({"code": "Forbidden", "message": ECHO}, 403),
    "422 text": text(422, ECHO * 40),
    "200 not json": text(200, f"Basic {TOKEN}"),
    "200 cut json": text(200, f'{{"echo": "{SECRET}", "items": [', "application/json"),
}


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_no_error_the_client_raises_quotes_a_credential_or_a_long_body(answer):
    with make_client(Script(answer)) as client, pytest.raises(T212Error) as err:
        client.get(SUMMARY)
    message = str(err.value)
    assert_clean(message)
    assert len(message) < 2 * SERVER_TEXT_LIMIT + 200
    assert_clean(str(getattr(err.value, "last", "")))


NEXT_PAGES = {
    "another host": f"https://{quote(KEY, safe='')}@evil.example{DIVS}?cursor=1",
    "another endpoint": f"/api/v0/equity/history/{TOKEN}?cursor=1",
    "stuck cursor": f"{DIVS}?cursor={quote(SECRET, safe='')}",
}


@pytest.mark.parametrize("next_path", NEXT_PAGES.values(), ids=NEXT_PAGES.keys())
def test_a_next_page_path_that_echoes_a_credential_is_not_quoted(next_path):
    page = {"items": [{"reference": "a"}], "nextPagePath": next_path}
    with make_client(Script(json_response(page))) as client, pytest.raises(T212Error) as err:
        list(client.paginate(DIVS, {"cursor": quote(SECRET, safe="")}))
    assert_clean(str(err.value))


def test_credentials_echoed_in_response_headers_never_reach_httpx_or_httpcore_logs(caplog):
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()
    with Sandbox(small_config()) as sb:
        sb.inject("echo_headers")
        client = T212Client(
            Credentials(DEMO_KEY, DEMO_SECRET),
            base_url=sb.base_url,
            options=ClientOptions(retry=RetryPolicy(1)),
        )
        with client, pytest.raises(T212Error):
            client.get(DIVS)
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert headers and "X-Echo-Authorization" in headers[-1]
    for record in caplog.records:
        for form in (token, DEMO_KEY, DEMO_SECRET):
            assert form not in record.getMessage()
