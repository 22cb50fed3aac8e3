"""Reading a StreamForge store into pandas.

`connect()` opens the store the C++ platform writes (SQLite file or PostgreSQL database) and every
reader returns a DataFrame indexed by a UTC DatetimeIndex, filtered in SQL (symbol, interval, a
half-open time range [start, end)) so that only the rows asked for leave the database. Prices and
quantities are float64 by default (the nearest double to the stored decimal text) or, with
exact=True, decimal.Decimal values whose str() is the stored text byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from . import _schema as S
from ._backends import Backend, Chunk, Param, open_backend
from ._frames import assemble, finish_chunk, frames
from ._schema import Kind, Table
from ._timeconv import TimeLike, to_micros
from ._url import default_store_url, parse_store_url

DEFAULT_CHUNK_ROWS = 100_000
SymbolArg = str | Sequence[str] | None


@dataclass
class Graph:
    """A graph as graph-builder stored it: nodes (features, one column per feature name), edges,
    labels (direction 0 DOWN / 1 FLAT / 2 UP / -1 unknown, next-horizon volatility) and its
    metadata (feature names, normalisation, span, parameters)."""

    name: str
    kind: str
    interval: str
    meta: dict[str, Any]
    nodes: pd.DataFrame
    edges: pd.DataFrame
    labels: pd.DataFrame = field(repr=False)


class _Where:
    """WHERE clauses with `?` placeholders, built from the readers' filter arguments."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Param] = []

    def equals(self, column: str, value: SymbolArg) -> None:
        if value is None:
            return
        if isinstance(value, str):
            self.clauses.append(f"{column} = ?")
            self.params.append(value)
            return
        values = list(value)
        if not values:
            self.clauses.append("1 = 0")
            return
        self.clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        self.params.extend(values)

    def time_range(self, table: Table, start: TimeLike | None, end: TimeLike | None) -> None:
        column = table.column(table.time_column)
        for bound, op in ((start, ">="), (end, "<")):
            if bound is None:
                continue
            micros = to_micros(bound)
            self.clauses.append(f"{column.name} {op} ?")
            self.params.append(micros / 1e6 if column.kind is Kind.TIME_S else micros)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


class Store:
    """An open store. Use as a context manager, or call close()."""

    def __init__(self, url: str | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self._location = parse_store_url(url if url is not None else default_store_url())
        self._backend: Backend = open_backend(self._location)
        self.chunk_rows = chunk_rows

    @property
    def url(self) -> str:
        """The store URL, password redacted."""
        return self._location.redacted

    @property
    def kind(self) -> str:
        """'sqlite' or 'postgres'."""
        return self._location.kind

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- market data -----------------------------------------------------------------------------

    def candles(self, symbol: SymbolArg = None, interval: SymbolArg = None,
                start: TimeLike | None = None, end: TimeLike | None = None, *,
                exact: bool = False) -> pd.DataFrame:
        """Candles (klines), indexed by open time; `end` excludes a candle that opens at it."""
        return self._frame(S.CANDLES, self._where(S.CANDLES, symbol, start, end, interval), exact)

    def trades(self, symbol: SymbolArg = None, start: TimeLike | None = None,
               end: TimeLike | None = None, *, exact: bool = False) -> pd.DataFrame:
        """Trades, indexed by trade time, in (time, id) order."""
        return self._frame(S.TRADES, self._where(S.TRADES, symbol, start, end), exact)

    def agg_trades(self, symbol: SymbolArg = None, start: TimeLike | None = None,
                   end: TimeLike | None = None, *, exact: bool = False) -> pd.DataFrame:
        """Aggregate trades, indexed by trade time, in (time, id) order."""
        return self._frame(S.AGG_TRADES, self._where(S.AGG_TRADES, symbol, start, end), exact)

    def iter_trades(self, symbol: SymbolArg = None, start: TimeLike | None = None,
                    end: TimeLike | None = None, *, exact: bool = False,
                    chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
        """trades() a chunk at a time: for reads larger than memory."""
        return self._iter(S.TRADES, self._where(S.TRADES, symbol, start, end), exact, chunk_rows)

    def iter_agg_trades(self, symbol: SymbolArg = None, start: TimeLike | None = None,
                        end: TimeLike | None = None, *, exact: bool = False,
                        chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
        """agg_trades() a chunk at a time."""
        where = self._where(S.AGG_TRADES, symbol, start, end)
        return self._iter(S.AGG_TRADES, where, exact, chunk_rows)

    def iter_candles(self, symbol: SymbolArg = None, interval: SymbolArg = None,
                     start: TimeLike | None = None, end: TimeLike | None = None, *,
                     exact: bool = False, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
        """candles() a chunk at a time."""
        where = self._where(S.CANDLES, symbol, start, end, interval)
        return self._iter(S.CANDLES, where, exact, chunk_rows)

    def book_snapshots(self, symbol: SymbolArg = None, start: TimeLike | None = None,
                       end: TimeLike | None = None, *, exact: bool = False) -> pd.DataFrame:
        """Order-book snapshots, indexed by event time (NaT for a REST snapshot, which carries
        none), in update-id order. `bids` and `asks` hold each snapshot's levels, best first: an
        (n, 2) float64 array of price, quantity per row, or with exact=True a list of
        (Decimal, Decimal) pairs. book_levels() turns them into one row per level."""
        frame = self._frame(S.DEPTH_SNAPSHOTS,
                            self._where(S.DEPTH_SNAPSHOTS, symbol, start, end), exact)
        for side in ("bids", "asks"):
            parsed = [_levels(text, exact) for text in frame[side]]
            frame[side] = pd.Series(parsed, index=frame.index, dtype=object)
        return frame

    def indicators(self, symbol: SymbolArg = None, interval: SymbolArg = None,
                   names: SymbolArg = None, start: TimeLike | None = None,
                   end: TimeLike | None = None, *, wide: bool = False) -> pd.DataFrame:
        """Indicator values (long: symbol, interval, name, value per open time). wide=True pivots
        to one column per indicator name, for a single symbol and interval."""
        where = self._where(S.INDICATORS, symbol, start, end, interval)
        where.equals("name", names)
        frame = self._frame(S.INDICATORS, where, exact=False)
        if not wide:
            return frame
        pairs = frame[["symbol", "interval"]].drop_duplicates()
        if len(pairs) > 1:
            raise ValueError("wide=True needs one symbol and one interval; "
                             f"the result holds {len(pairs)} pairs: filter by symbol and interval")
        wide_frame = frame.pivot(columns="name", values="value")
        wide_frame.columns.name = None
        return wide_frame

    def symbols(self, table: str = "candles") -> list[str]:
        """The symbols a market table (candles, trades, agg_trades, depth_snapshots, indicators)
        holds, sorted."""
        tables = {t.name: t for t in (S.CANDLES, S.TRADES, S.AGG_TRADES, S.DEPTH_SNAPSHOTS,
                                      S.INDICATORS)}
        if table not in tables:
            raise ValueError(f"no symbols in table '{table}' (one of {sorted(tables)})")
        column = (S.Column("symbol", Kind.TEXT),)
        chunks = self._backend.chunks(f"SELECT DISTINCT symbol FROM {table} ORDER BY symbol", [],
                                      column, False, self.chunk_rows)
        return [str(s) for chunk in chunks for s in chunk["symbol"]]

    # -- platform records ------------------------------------------------------------------------

    def workflows(self, status: SymbolArg = None, start: TimeLike | None = None,
                  end: TimeLike | None = None) -> pd.DataFrame:
        """Workflows, indexed by creation time, with their template, symbol and parameters
        unpacked from the stored definition (kept whole in `definition`, JSON text)."""
        where = self._where(S.WORKFLOWS, None, start, end)
        where.equals("status", status)
        frame = self._frame(S.WORKFLOWS, where, exact=False)
        definitions = [json.loads(text) for text in frame["definition"]]
        params = [d.get("params", {}) for d in definitions]
        templates = [str(d.get("template", "")) for d in definitions]
        frame.insert(2, "template", pd.Series(templates, index=frame.index, dtype="str"))
        symbols = [str(p.get("symbol", "")) for p in params]
        frame.insert(3, "symbol", pd.Series(symbols, index=frame.index, dtype="str"))
        frame.insert(4, "params", pd.Series(params, index=frame.index, dtype=object))
        return frame

    def telemetry(self, queue_id: SymbolArg = None, start: TimeLike | None = None,
                  end: TimeLike | None = None) -> pd.DataFrame:
        """Telemetry events (the protocol's fields), indexed by their timestamp."""
        where = self._where(S.TELEMETRY, None, start, end)
        where.equals("queue_id", queue_id)
        return self._frame(S.TELEMETRY, where, exact=False)

    def graphs(self) -> pd.DataFrame:
        """Every stored graph (name, kind, interval, counts, meta as parsed JSON)."""
        frame = self._frame(S.GRAPHS, _Where(), exact=False)
        frame["meta"] = pd.Series([json.loads(m) for m in frame["meta"]], index=frame.index,
                                  dtype=object)
        return frame

    def graph(self, name: str) -> Graph:
        """One stored graph; KeyError when there is none of that name."""
        where = _Where()
        where.equals("name", name)
        info = self._frame(S.GRAPHS, where, exact=False)
        if info.empty:
            raise KeyError(f"no graph named '{name}' in {self.url}")
        meta: dict[str, Any] = json.loads(info["meta"].iloc[0])
        nodes = self._frame(S.GRAPH_NODES, self._graph_rows(name), exact=False)
        edges = self._frame(S.GRAPH_EDGES, self._graph_rows(name), exact=False)
        features = _float_rows(nodes.pop("features").to_numpy())
        names = list(meta.get("feature_names", []))
        if len(names) != features.shape[1]:
            names = [f"f{i}" for i in range(features.shape[1])]
        labels = nodes[["node_id", "symbol", "direction", "volatility"]].copy()
        nodes = nodes.drop(columns=["direction", "volatility"])
        for i, feature in enumerate(names):
            nodes[feature] = features[:, i]
        return Graph(name=name, kind=str(info["kind"].iloc[0]),
                     interval=str(info["interval"].iloc[0]), meta=meta, nodes=nodes,
                     edges=edges.set_index("idx"), labels=labels)

    # -- internals -------------------------------------------------------------------------------

    def _where(self, table: Table, symbol: SymbolArg, start: TimeLike | None,
               end: TimeLike | None, interval: SymbolArg = None) -> _Where:
        where = _Where()
        where.equals("symbol", symbol)
        where.equals("interval", interval)
        where.time_range(table, start, end)
        return where

    def _graph_rows(self, name: str) -> _Where:
        where = _Where()
        where.equals("graph", name)
        if self.kind == "postgres":
            # Rows of the graph's current write (graphs.generation), as the C++ reader selects.
            where.clauses.append("generation = (SELECT generation FROM graphs WHERE name = ?)")
            where.params.append(name)
        return where

    def _chunks(self, table: Table, where: _Where, exact: bool,
                chunk_rows: int | None) -> Iterator[Chunk]:
        sql = (f"SELECT {self._backend.select(table.columns, exact)} FROM {table.name}"
               f"{where.sql()} ORDER BY {table.order_by}")
        rows = chunk_rows or self.chunk_rows
        for raw in self._backend.chunks(sql, where.params, table.columns, exact, rows):
            yield finish_chunk(table.columns, raw, exact)

    def _frame(self, table: Table, where: _Where, exact: bool) -> pd.DataFrame:
        index = table.time_column or None
        return assemble(table.columns, self._chunks(table, where, exact, None), exact, index)

    def _iter(self, table: Table, where: _Where, exact: bool,
              chunk_rows: int | None) -> Iterator[pd.DataFrame]:
        return frames(table.columns, self._chunks(table, where, exact, chunk_rows), exact,
                      table.time_column)


def connect(url: str | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Store:
    """Opens a store: `sqlite:PATH` or `postgres(ql)://...`, by default `SF_STORE` (then
    `POSTGRES_DSN`, then `sqlite:./data/streamforge.db`, as the platform chooses). Raises
    StoreURLError for a URL of another form, StoreConnectionError when it cannot be opened and
    StoreSchemaError when it holds no StreamForge tables."""
    return Store(url, chunk_rows=chunk_rows)


def book_levels(snapshots: pd.DataFrame, depth: int | None = None) -> pd.DataFrame:
    """One row per level of book_snapshots(): index event time, columns symbol, last_update_id,
    side ('bid'/'ask'), level (0 = best), price, quantity; `depth` keeps the best N per side."""
    pieces: list[pd.DataFrame] = []
    for side, column in (("bid", "bids"), ("ask", "asks")):
        levels = [lv if depth is None else lv[:depth] for lv in snapshots[column]]
        counts = np.fromiter((len(lv) for lv in levels), dtype=np.int64, count=len(levels))
        rows = np.repeat(np.arange(len(levels)), counts)
        flat = [pair for lv in levels for pair in lv]
        prices = [p for p, _ in flat]
        quantities = [q for _, q in flat]
        exact = bool(flat) and isinstance(flat[0][0], Decimal)
        piece = pd.DataFrame({
            "symbol": snapshots["symbol"].to_numpy()[rows],
            "last_update_id": snapshots["last_update_id"].to_numpy()[rows],
            "side": side,
            "level": np.concatenate([np.arange(c) for c in counts]) if len(counts) else
            np.empty(0, dtype=np.int64),
            "price": np.array(prices, dtype=object if exact else np.float64),
            "quantity": np.array(quantities, dtype=object if exact else np.float64),
        }, index=snapshots.index[rows])
        pieces.append(piece)
    out = pd.concat(pieces)
    return out.sort_values(["last_update_id", "side", "level"], ascending=[True, False, True],
                           kind="stable")


def _levels(text: str, exact: bool) -> Any:
    pairs = json.loads(text)
    if exact:
        return [(Decimal(p), Decimal(q)) for p, q in pairs]
    return np.array(pairs, dtype=np.float64).reshape(-1, 2)


def _float_rows(texts: np.ndarray) -> np.ndarray:
    """'[a,b,...]' rows (float32 in shortest text) -> a (rows, width) float32 matrix, parsed via
    double as the C++ reader does, so every value is bit-identical to the one written."""
    if len(texts) == 0:
        return np.empty((0, 0), dtype=np.float32)
    width = str(texts[0]).count(",") + 1 if str(texts[0]).strip("[] ") else 0
    body = ",".join(str(t).strip()[1:-1] for t in texts)
    flat = np.array(body.split(","), dtype=np.float64) if width else np.empty(0)
    return flat.astype(np.float32).reshape(len(texts), width)
