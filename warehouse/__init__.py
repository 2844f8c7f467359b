"""Storage: raw landing zone, DuckDB tables and views, Parquet datasets, load state and run log."""

from warehouse.bookkeeping import GLOBAL_ACCOUNT
from warehouse.files import WarehouseLocked
from warehouse.memory import MemoryLimitInvalid
from warehouse.merge import MergeCounts
from warehouse.reader import WarehouseMissing, WriteRefused, check_read_only, connect_readonly
from warehouse.store import Warehouse

__all__ = [
    "GLOBAL_ACCOUNT",
    "MemoryLimitInvalid",
    "MergeCounts",
    "Warehouse",
    "WarehouseLocked",
    "WarehouseMissing",
    "WriteRefused",
    "check_read_only",
    "connect_readonly",
]
