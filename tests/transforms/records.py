"""Synthetic API records for the transform tests (made up, not from any account)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

D = Decimal


def listed(ticker: str, currency: str) -> dict[str, Any]:
    """The short instrument object nested in positions, orders and dividends."""
    return {
        "ticker": ticker,
        "name": f"Example {ticker}",
        "isin": "XX0000000001",
        "currency": currency,
    }


def instrument(**overrides: Any) -> dict[str, Any]:
    """A tradable instrument record."""
    record = {
        "ticker": "VUSAl_EQ",
        "type": "ETF",
        "name": "Example S&P 500 UCITS ETF",
        "shortName": "VUSA",
        "isin": "IE00EXAMPLE01",
        "currencyCode": "GBX",
        "workingScheduleId": 71,
        "maxOpenQuantity": D("150000.0000000000"),
        "extendedHours": False,
        "addedOn": "2019-03-04T09:12:33.000+02:00",
    }
    return {**record, **overrides}


def dividend(**overrides: Any) -> dict[str, Any]:
    """A dividend history item."""
    record = {
        "reference": "div-0001",
        "ticker": "VUSAl_EQ",
        "type": "ORDINARY",
        "paidOn": "2024-03-27T10:15:00.000+03:00",
        "quantity": D("12.3456789000"),
        "amount": D("3.1400000000"),
        "amountInEuro": D("3.6700000000"),
        "currency": "GBP",
        "grossAmountPerShare": D("25.4310000000"),
        "tickerCurrency": "GBX",
        "instrument": listed("VUSAl_EQ", "GBX"),
    }
    return {**record, **overrides}


def transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction history item."""
    record = {
        "reference": "txn-0001",
        "type": "DEPOSIT",
        "dateTime": "2024-02-01T08:00:00Z",
        "amount": D("500.00"),
        "currency": "GBP",
    }
    return {**record, **overrides}


def order(**overrides: Any) -> dict[str, Any]:
    """An order placed by quantity."""
    record = {
        "id": 9001,
        "ticker": "AAPL_US_EQ",
        "type": "MARKET",
        "side": "BUY",
        "status": "FILLED",
        "strategy": "QUANTITY",
        "initiatedFrom": "WEB",
        "timeInForce": "DAY",
        "extendedHours": False,
        "createdAt": "2024-04-02T16:30:00.125+03:00",
        "currency": "USD",
        "quantity": D("1.5000000000"),
        "filledQuantity": D("1.5"),
        "value": None,
        "filledValue": None,
        "limitPrice": None,
        "stopPrice": None,
        "instrument": listed("AAPL_US_EQ", "USD"),
    }
    return {**record, **overrides}


def tax(**overrides: Any) -> dict[str, Any]:
    """A tax charged on a fill."""
    record = {
        "name": "CURRENCY_CONVERSION_FEE",
        "chargedAt": "2024-04-02T13:30:01Z",
        "currency": "GBP",
        "quantity": D("-0.33"),
    }
    return {**record, **overrides}


def fill(**overrides: Any) -> dict[str, Any]:
    """A fill with one tax."""
    record = {
        "id": 7001,
        "filledAt": "2024-04-02T13:30:01Z",
        "price": D("189.1200000000"),
        "quantity": D("1.5"),
        "tradingMethod": "TOTV",
        "type": "TRADE",
        "walletImpact": {
            "currency": "GBP",
            "fxRate": D("0.79123"),
            "netValue": D("-224.11"),
            "realisedProfitLoss": D("0E-10"),
            "taxes": [tax()],
        },
    }
    return {**record, **overrides}


def position(**overrides: Any) -> dict[str, Any]:
    """An open position in a London listing priced in pence."""
    record = {
        "instrument": listed("VUSAl_EQ", "GBX"),
        "quantity": D("10.5"),
        "quantityAvailableForTrading": D("10.5"),
        "quantityInPies": D("0"),
        "averagePricePaid": D("7234.5"),
        "currentPrice": D("7301.25"),
        "createdAt": "2023-11-20T10:00:00+02:00",
        "walletImpact": {
            "currency": "GBP",
            "currentValue": D("766.63"),
            "fxImpact": None,
            "totalCost": D("759.62"),
            "unrealizedProfitLoss": D("7.01"),
        },
    }
    return {**record, **overrides}


def account_summary(**overrides: Any) -> dict[str, Any]:
    """An account summary."""
    record = {
        "id": 123456,
        "currency": "GBP",
        "totalValue": D("10250.75"),
        "cash": {"availableToTrade": D("250.5"), "inPies": D("0"), "reservedForOrders": D("0E-10")},
        "investments": {
            "currentValue": D("10000.25"),
            "realizedProfitLoss": D("-12.5"),
            "totalCost": D("9500"),
            "unrealizedProfitLoss": D("500.25"),
        },
    }
    return {**record, **overrides}


def exchange(**overrides: Any) -> dict[str, Any]:
    """An exchange with one working schedule of two events."""
    record = {
        "id": 3,
        "name": "Example Exchange",
        "workingSchedules": [
            {
                "id": 71,
                "timeEvents": [
                    {"date": "2024-05-01T08:00:00.000+01:00", "type": "OPEN"},
                    {"date": "2024-05-01T16:30:00Z", "type": "CLOSE"},
                ],
            }
        ],
    }
    return {**record, **overrides}
