"""A local Trading 212 double: a real HTTP server on loopback with deterministic synthetic data."""

from sandbox.config import (
    ALL_SCOPES,
    DEMO_ACCOUNT_ID,
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    SandboxConfig,
    SandboxSize,
)
from sandbox.faults import FAULTS
from sandbox.service import Sandbox

__all__ = [
    "ALL_SCOPES",
    "DEMO_ACCOUNT_ID",
    "DEMO_ISA_ACCOUNT_ID",
    "DEMO_ISA_KEY",
    "DEMO_ISA_SECRET",
    "DEMO_KEY",
    "DEMO_SECRET",
    "FAULTS",
    "AccountSpec",
    "Sandbox",
    "SandboxConfig",
    "SandboxSize",
]
