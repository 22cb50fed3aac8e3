"""The store's tables as the C++ side writes them (src/store/sqlite_store.cc, postgres_store.cc).

Each column carries a kind that says how it is stored and how it becomes a DataFrame column, so the
two backends (which store decimals as TEXT or NUMERIC, booleans as INTEGER or BOOLEAN) and the
frame conversion all work from one description and cannot drift apart column by column.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """How a column is stored and what it becomes in a frame."""

    TEXT = "text"  # str
    INT = "int"  # int64
    TIME_US = "time_us"  # int64 µs since the epoch -> UTC datetime
    TIME_US_OPT = "time_us_opt"  # the same, 0 meaning "not known" -> NaT
    DECIMAL = "decimal"  # exact decimal text (SQLite TEXT, PostgreSQL NUMERIC) -> float64 | Decimal
    BOOL = "bool"  # 0/1 or BOOLEAN -> bool
    BOOL_OPT = "bool_opt"  # nullable -> pandas "boolean"
    REAL = "real"  # float64
    REAL_OPT = "real_opt"  # nullable float64 (NaN)
    REAL32 = "real32"  # a C++ float (SQLite REAL, PostgreSQL REAL) -> float32, bit-identical
    TIME_S = "time_s"  # float seconds since the epoch -> UTC datetime
    JSON = "json"  # JSON text (SQLite TEXT, PostgreSQL JSONB) -> str
    FLOATS = "floats"  # float32 vector (SQLite JSON text, PostgreSQL REAL[]) -> str "[a,b]"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True)
class Table:
    """One store table: its columns in struct order, the time column that indexes the frame and
    bounds time ranges, and the ORDER BY its reads use (an index or the primary key, never a
    sort)."""

    name: str
    columns: tuple[Column, ...]
    time_column: str
    order_by: str

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _cols(*spec: tuple[str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in spec)


K = Kind
TRADES = Table(
    "trades",
    _cols(("symbol", K.TEXT), ("trade_id", K.INT), ("price", K.DECIMAL), ("quantity", K.DECIMAL),
          ("trade_time", K.TIME_US), ("event_time", K.TIME_US_OPT), ("receive_time", K.TIME_US_OPT),
          ("is_buyer_maker", K.BOOL), ("is_best_match", K.BOOL_OPT)),
    "trade_time", "symbol, trade_time, trade_id")
AGG_TRADES = Table(
    "agg_trades",
    _cols(("symbol", K.TEXT), ("agg_trade_id", K.INT), ("price", K.DECIMAL),
          ("quantity", K.DECIMAL), ("first_trade_id", K.INT), ("last_trade_id", K.INT),
          ("trade_time", K.TIME_US), ("event_time", K.TIME_US_OPT), ("receive_time", K.TIME_US_OPT),
          ("is_buyer_maker", K.BOOL), ("is_best_match", K.BOOL_OPT)),
    "trade_time", "symbol, trade_time, agg_trade_id")
CANDLES = Table(
    "candles",
    _cols(("symbol", K.TEXT), ("interval", K.TEXT), ("open_time", K.TIME_US), ("open", K.DECIMAL),
          ("high", K.DECIMAL), ("low", K.DECIMAL), ("close", K.DECIMAL), ("volume", K.DECIMAL),
          ("close_time", K.TIME_US), ("quote_asset_volume", K.DECIMAL),
          ("number_of_trades", K.INT), ("taker_buy_base_asset_volume", K.DECIMAL),
          ("taker_buy_quote_asset_volume", K.DECIMAL), ("ignore_value", K.DECIMAL),
          ("first_trade_id", K.INT), ("last_trade_id", K.INT), ("is_closed", K.BOOL),
          ("event_time", K.TIME_US_OPT), ("receive_time", K.TIME_US_OPT)),
    "open_time", "symbol, interval, open_time")
DEPTH_SNAPSHOTS = Table(
    "depth_snapshots",
    _cols(("symbol", K.TEXT), ("last_update_id", K.INT), ("bids", K.JSON), ("asks", K.JSON),
          ("is_partial", K.BOOL), ("event_time", K.TIME_US_OPT), ("receive_time", K.TIME_US_OPT)),
    "event_time", "symbol, last_update_id")
INDICATORS = Table(
    "indicators",
    _cols(("symbol", K.TEXT), ("interval", K.TEXT), ("name", K.TEXT), ("open_time", K.TIME_US),
          ("value", K.REAL_OPT)),
    "open_time", "symbol, interval, name, open_time")
TELEMETRY = Table(
    "telemetry",
    _cols(("queue_id", K.TEXT), ("producer", K.TEXT), ("symbol", K.TEXT), ("type", K.TEXT),
          ("status", K.TEXT), ("message", K.TEXT), ("records_written", K.INT),
          ("finished", K.BOOL), ("timestamp", K.TIME_S), ("extra", K.TEXT)),
    "timestamp", "queue_id, timestamp, producer, status")
WORKFLOWS = Table(
    "workflows",
    _cols(("queue_id", K.TEXT), ("status", K.TEXT), ("definition", K.TEXT),
          ("created_at", K.TIME_S), ("updated_at", K.TIME_S)),
    "created_at", "created_at, queue_id")
GRAPHS = Table(
    "graphs",
    _cols(("name", K.TEXT), ("kind", K.TEXT), ("interval", K.TEXT), ("meta", K.JSON),
          ("created_at", K.TIME_S), ("node_count", K.INT), ("edge_count", K.INT)),
    "created_at", "name")
GRAPH_NODES = Table(
    "graph_nodes",
    _cols(("idx", K.INT), ("node_id", K.INT), ("time_us", K.TIME_US), ("symbol", K.TEXT),
          ("features", K.FLOATS), ("direction", K.INT), ("volatility", K.REAL_OPT)),
    "time_us", "idx")
GRAPH_EDGES = Table(
    "graph_edges",
    _cols(("idx", K.INT), ("src", K.INT), ("dst", K.INT), ("weight", K.REAL32), ("kind", K.TEXT)),
    "", "idx")
