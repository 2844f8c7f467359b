"""Fixtures of the lake's tests: one moto server per test process, a fresh bucket per test."""

from __future__ import annotations

import pytest

from tests.lake.s3 import aws_env, moto_server, new_bucket

# variables that would point the clients elsewhere than the test server
FOREIGN = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_S3_LOCKING_PROVIDER", "AWS_CONDITIONAL_PUT")


@pytest.fixture(scope="session")
def s3_endpoint():
    """The endpoint of this test process's S3-compatible server."""
    with moto_server() as endpoint:
        yield endpoint


def point_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Set the AWS variables for the test server (and clear ones that would interfere)."""
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def storage_url(s3_endpoint, monkeypatch) -> str:
    """The storage URL of a new, empty bucket, with the environment pointing at it."""
    point_at(monkeypatch, s3_endpoint)
    return f"s3://{new_bucket(s3_endpoint)}/lake"
