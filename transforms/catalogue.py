"""The table catalogue: every warehouse table declared once, DuckDB DDL and Arrow schema derived."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from transforms.types import TYPES, LogicalType

LOAD_METADATA = ("_loaded_at", "_run_id")


@dataclass(frozen=True)
class Column:
    """One column: snake_case name and the name of its logical type (a key of ``TYPES``)."""

    name: str
    type: str

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")

    @property
    def logical(self) -> LogicalType:
        """The logical type of this column."""
        return TYPES[self.type]

    @property
    def duckdb_type(self) -> str:
        """The DuckDB SQL type of this column."""
        return self.logical.duckdb

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of this column."""
        return self.logical.arrow


def columns(spec: str) -> tuple[Column, ...]:
    """Parse ``"name:type name:type ..."`` into columns, in order."""
    return tuple(Column(*item.split(":")) for item in spec.split())


class TableKind(StrEnum):
    """How loads change a table, in the words of the resources' kinds (``Kind``), each
    value its name; no stored data holds these values."""

    REFERENCE = "reference"  # a reference list, replaced whole by each load
    SNAPSHOT = "snapshot"  # one snapshot per run, appended
    HISTORY = "history"  # history merged on the natural key
    LOG = "log"  # the pipeline's own bookkeeping
    DERIVED = "derived"  # computed from the tables above, replaced whole by each derivation


@dataclass(frozen=True)
class Table:
    """A warehouse table: columns, natural key, kind, Parquet partitioning and what it holds."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    kind: TableKind
    partition_by: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        names = self.column_names
        missing = [k for k in (*self.key, *self.partition_by) if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: key/partition columns {missing} not declared")
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")

    @property
    def column_names(self) -> list[str]:
        """Column names in declared order."""
        return [c.name for c in self.columns]

    @property
    def value_columns(self) -> list[str]:
        """Columns that are not part of the natural key."""
        return [c.name for c in self.columns if c.name not in self.key]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def indexed(self) -> bool:
        """Whether DuckDB keeps a primary key index on the natural key.

        Only the small bookkeeping tables do (``INSERT OR REPLACE`` needs it). A DuckDB
        index is held in memory whole and a transaction's new keys in another one beside
        it, so on a data table it grows with the history until a large first export runs
        out of memory; the merge keeps those keys unique instead.
        """
        return self.kind == TableKind.LOG

    def duckdb_ddl(self, if_not_exists: bool = True) -> str:
        """CREATE TABLE statement: key columns NOT NULL, and a primary key where :attr:`indexed`."""
        cols = ",\n  ".join(
            f'"{c.name}" {c.duckdb_type}' + (" NOT NULL" if c.name in self.key else "")
            for c in self.columns
        )
        key = ", ".join(f'"{k}"' for k in self.key)
        guard = "IF NOT EXISTS " if if_not_exists else ""
        primary = f",\n  PRIMARY KEY ({key})" if self.indexed else ""
        return f'CREATE TABLE {guard}"{self.name}" (\n  {cols}{primary}\n)'

    def arrow_schema(self) -> pa.Schema:
        """The Arrow (and so Parquet) schema of this table."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])


def _cols(spec: str) -> tuple[Column, ...]:
    """The columns of ``spec`` followed by the load metadata."""
    return columns(f"{spec} _loaded_at:timestamp _run_id:text")


_INSTRUMENT_REF = "instrument_name:text instrument_isin:text instrument_currency:currency"
# Amounts of the CSV reports, each with its currency (``Total`` and ``Currency (Total)``).
_REPORT_MONEY = (
    "result",
    "total",
    "withholding_tax",
    "stamp_duty",
    "stamp_duty_reserve_tax",
    "currency_conversion_fee",
    "french_transaction_tax",
    "finra_fee",
    "transaction_fee",
    "deposit_fee",
    "charge_amount",
    "currency_conversion_from_amount",
    "currency_conversion_to_amount",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "instruments",
            _cols(
                "ticker:text type:text name:text short_name:text isin:text currency_code:currency "
                "working_schedule_id:bigint max_open_quantity:decimal extended_hours:boolean "
                "added_on:timestamp first_seen_at:timestamp last_seen_at:timestamp "
                "is_listed:boolean"
            ),
            key=("ticker",),
            kind=TableKind.REFERENCE,
            description="the current list, with `first_seen_at`, `last_seen_at`, `is_listed`",
        ),
        Table(
            "exchanges",
            _cols("exchange_id:bigint name:text"),
            key=("exchange_id",),
            kind=TableKind.REFERENCE,
            description="the current list of exchanges",
        ),
        Table(
            "working_schedule_events",
            _cols(
                "working_schedule_id:bigint event_at:timestamp event_type:text exchange_id:bigint"
            ),
            key=("working_schedule_id", "event_at", "event_type"),
            kind=TableKind.REFERENCE,
            description="the current trading schedules of the exchanges",
        ),
        Table(
            "account_summaries",
            _cols(
                "account_id:bigint snapshot_at:timestamp snapshot_date:date currency:currency "
                "total_value:decimal cash_available_to_trade:decimal cash_in_pies:decimal "
                "cash_reserved_for_orders:decimal investments_current_value:decimal "
                "investments_realized_profit_loss:decimal investments_total_cost:decimal "
                "investments_unrealized_profit_loss:decimal"
            ),
            key=("account_id", "snapshot_at"),
            kind=TableKind.SNAPSHOT,
            description="one account summary per run",
            partition_by=("account_id", "snapshot_date"),
        ),
        Table(
            "positions",
            _cols(
                "account_id:bigint snapshot_at:timestamp snapshot_date:date ticker:text "
                f"{_INSTRUMENT_REF} quantity:decimal quantity_available_for_trading:decimal "
                "quantity_in_pies:decimal average_price_paid:decimal current_price:decimal "
                "price_currency_major:currency average_price_paid_major:decimal "
                "current_price_major:decimal created_at:timestamp wallet_impact_currency:currency "
                "wallet_impact_current_value:decimal wallet_impact_fx_impact:decimal "
                "wallet_impact_total_cost:decimal wallet_impact_unrealized_profit_loss:decimal"
            ),
            key=("account_id", "snapshot_at", "ticker"),
            kind=TableKind.SNAPSHOT,
            description="one snapshot per run; GBX prices also in GBP (`*_major`)",
            partition_by=("account_id", "snapshot_date"),
        ),
        Table(
            "pending_orders",
            _cols(
                "account_id:bigint snapshot_at:timestamp snapshot_date:date order_id:bigint "
                "ticker:text type:text side:text status:text strategy:text initiated_from:text "
                "time_in_force:text extended_hours:boolean created_at:timestamp "
                "currency:currency quantity:decimal filled_quantity:decimal value:decimal "
                "filled_value:decimal limit_price:decimal stop_price:decimal " + _INSTRUMENT_REF
            ),
            key=("account_id", "snapshot_at", "order_id"),
            kind=TableKind.SNAPSHOT,
            description="one snapshot per run of the orders still open",
            partition_by=("account_id", "snapshot_date"),
        ),
        Table(
            "dividends",
            _cols(
                "account_id:bigint reference:text ticker:text type:text paid_on:timestamp "
                "quantity:decimal amount:decimal amount_in_euro:decimal currency:currency "
                "gross_amount_per_share:decimal ticker_currency:currency " + _INSTRUMENT_REF
            ),
            key=("account_id", "reference"),
            kind=TableKind.HISTORY,
            description="dividends paid, merged",
            partition_by=("account_id",),
        ),
        Table(
            "orders",
            _cols(
                "account_id:bigint order_id:bigint ticker:text type:text side:text status:text "
                "strategy:text initiated_from:text time_in_force:text extended_hours:boolean "
                "created_at:timestamp currency:currency quantity:decimal filled_quantity:decimal "
                "value:decimal filled_value:decimal limit_price:decimal stop_price:decimal "
                + _INSTRUMENT_REF
            ),
            key=("account_id", "order_id"),
            kind=TableKind.HISTORY,
            description="orders, merged",
            partition_by=("account_id",),
        ),
        Table(
            "fills",
            _cols(
                "account_id:bigint fill_id:bigint order_id:bigint ticker:text "
                "filled_at:timestamp price:decimal quantity:decimal trading_method:text "
                "type:text wallet_impact_currency:currency wallet_impact_fx_rate:decimal "
                "wallet_impact_net_value:decimal wallet_impact_realised_profit_loss:decimal"
            ),
            key=("account_id", "fill_id"),
            kind=TableKind.HISTORY,
            description="the fills of orders (carries `order_id`), merged",
            partition_by=("account_id",),
        ),
        Table(
            "fill_taxes",
            _cols(
                "account_id:bigint fill_id:bigint name:text charged_at:timestamp "
                "currency:currency quantity:decimal"
            ),
            key=("account_id", "fill_id", "name", "charged_at"),
            kind=TableKind.HISTORY,
            description="the taxes and fees charged on fills, merged",
            partition_by=("account_id",),
        ),
        Table(
            "transactions",
            _cols(
                "account_id:bigint reference:text type:text date_time:timestamp "
                "amount:decimal currency:currency"
            ),
            key=("account_id", "reference"),
            kind=TableKind.HISTORY,
            description="deposits, withdrawals, interest, fees and transfers, merged",
            partition_by=("account_id",),
        ),
        Table(
            "activity",
            _cols(
                "account_id:bigint id:text report_id:text id_derived:boolean order_id:bigint "
                "action:text "
                "time:timestamp isin:text ticker:text name:text notes:text shares:decimal "
                "price_per_share:decimal price_per_share_currency:currency exchange_rate:decimal "
                + " ".join(f"{m}:decimal {m}_currency:currency" for m in _REPORT_MONEY)
                + " merchant_name:text merchant_category:text"
                # columns the parser does not know, as a JSON object {header: text}
                + " extra:text"
            ),
            key=("account_id", "id"),
            kind=TableKind.HISTORY,
            description="CSV report rows, each event once (`id` the event, `report_id` the report)",
            partition_by=("account_id",),
        ),
        # The portfolio model: derived from the tables above after every load, replaced whole.
        Table(
            "disposals",
            _cols(
                "account_id:bigint method:text disposal_id:text disposed_at:timestamp "
                "day:date year:text instrument:text ticker:text isin:text quantity:decimal "
                "proceeds:decimal sale_costs:decimal acquisition_costs:decimal "
                "allowable_costs:decimal gain:decimal currency:currency matching:text "
                "result_before_fees:decimal broker_result:decimal "
                # the account's tax wrapper: invest (taxable) or isa
                "wrapper:text"
            ),
            key=("account_id", "method", "disposal_id"),
            kind=TableKind.DERIVED,
            description="the portfolio model's disposals per method, replaced after every load",
        ),
        Table(
            "holding_changes",
            _cols(
                "account_id:bigint instrument:text day:date ticker:text isin:text "
                "quantity:decimal cost_basis:decimal cost_basis_with_fees:decimal "
                "currency:currency"
            ),
            key=("account_id", "instrument", "day"),
            kind=TableKind.DERIVED,
            description="the portfolio model's holdings on the days they change",
        ),
        Table(
            "returns",
            _cols(
                "account_id:bigint period_kind:text period:text start_day:date end_day:date "
                "start_value:decimal end_value:decimal net_flows:decimal twr:decimal "
                "mwr:decimal max_drawdown:decimal days:bigint currency:currency"
            ),
            key=("account_id", "period_kind", "period"),
            kind=TableKind.DERIVED,
            description="the portfolio model's returns per month, year and since inception",
        ),
    )
}


def table(name: str) -> Table:
    """The declared table called ``name``."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the catalogue") from None
