"""A failed resource says what to do; a 403 that names no scope names the declared one."""

from __future__ import annotations

from extractors.errors import PermissionDenied
from extractors.resources import RESOURCES
from flows.pipeline.account import failed_result


def test_a_403_without_a_scope_names_the_scope_the_resource_declares():
    exc = PermissionDenied("GET /api/v0/equity/history/orders: 403 Forbidden (no details)")
    message = failed_result("orders", 1, exc).error
    assert message.startswith("GET /api/v0/equity/history/orders: 403 Forbidden")
    assert f"needs the scope '{RESOURCES['orders'].scope}'" in message


def test_a_403_naming_its_scope_is_left_as_the_api_said():
    exc = PermissionDenied("403: the API key lacks the scope 'history:orders'", scope="x")
    assert failed_result("orders", 1, exc).error == str(exc)
