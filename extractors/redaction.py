"""Credentials masked out of text that came from a server, and that text kept to one short line."""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# Characters of server text (a body, a message, a link) quoted in one message.
SERVER_TEXT_LIMIT = 300
# Any run this long of a credential's spelling is masked: a server or a cut may have
# kept only part of it. Shorter runs cannot be told apart from ordinary text.
FRAGMENT = 8
# Credentials shorter than this (test doubles) are too common as text to mask.
SHORTEST = 4
# Server text read before masking and cutting: masking first leaves no part of a
# credential at the cut.
READ_LIMIT = 16 * SERVER_TEXT_LIMIT
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def spellings(secret: str) -> set[str]:
    """Every spelling in which ``secret`` could come back from a server or a proxy.

    As sent, URL- and form-encoded, JSON- and HTML-escaped; for a Base64 token also
    without padding and in the URL-safe alphabet.
    """
    found = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    found |= {json.dumps(secret)[1:-1], secret.replace("/", "\\/"), html.escape(secret)}
    try:
        base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return found
    for token in (secret, secret.rstrip("=")):
        found |= {token, token.replace("+", "-").replace("/", "_")}
    return found


def flatten(text: str) -> str:
    """``text`` on one line, runs of white space made one space."""
    return " ".join(text.split())


class Redactor:
    """Masks the key, the secret and their Basic token, whole or in part, in any text.

    Matching ignores ASCII case, so percent-encodings in either case are found.
    """

    def __init__(self, secrets: Iterable[str]):
        forms = {
            form.translate(_ASCII_LOWER)
            for secret in secrets
            if len(secret) >= SHORTEST
            for form in spellings(secret)
        }
        self._whole = sorted((f for f in forms if len(f) < FRAGMENT), key=len, reverse=True)
        self._pieces = {
            form[i : i + FRAGMENT]
            for form in forms
            if len(form) >= FRAGMENT
            for i in range(len(form) - FRAGMENT + 1)
        }

    def __call__(self, text: str) -> str:
        """``text`` with every credential, or any run of ``FRAGMENT`` characters of one, masked."""
        if not self._pieces and not self._whole:
            return text
        lowered = text.translate(_ASCII_LOWER)
        hidden = bytearray(len(text))
        for i in range(len(text) - FRAGMENT + 1):
            if lowered[i : i + FRAGMENT] in self._pieces:
                hidden[i : i + FRAGMENT] = b"\x01" * FRAGMENT
        for form in self._whole:
            start = lowered.find(form)
            while start >= 0:
                hidden[start : start + len(form)] = b"\x01" * len(form)
                start = lowered.find(form, start + 1)
        if not any(hidden):
            return text
        out, i = [], 0
        while i < len(text):
            if hidden[i]:
                while i < len(text) and hidden[i]:
                    i += 1
                out.append(MASK)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def quote(self, raw: bytes | str, limit: int = SERVER_TEXT_LIMIT) -> str:
        """Server text fit for a message: one line, credentials masked, then cut to ``limit``."""
        if isinstance(raw, bytes):
            raw = raw[: READ_LIMIT * 4].decode("utf-8", "replace")
        text = self(flatten(self(raw[:READ_LIMIT])))
        return text if len(text) <= limit else text[:limit] + "..."


PLAIN = Redactor(())
