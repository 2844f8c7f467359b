"""The portfolio engine: events in; disposals, holdings and returns out."""

from transforms.portfolio.events import Event, events_from_rows
from transforms.portfolio.model import (
    DEFAULT_WRAPPER,
    WRAPPERS,
    derive_portfolio,
    derive_portfolio_tables,
)
from transforms.portfolio.returns import compute_returns

__all__ = [
    "DEFAULT_WRAPPER",
    "WRAPPERS",
    "Event",
    "compute_returns",
    "derive_portfolio",
    "derive_portfolio_tables",
    "events_from_rows",
]
