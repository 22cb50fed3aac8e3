"""The store readers against stores the C++ platform wrote (both backends, see conftest.py)."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import streamforge as sf
from conftest import (AGG_TRADES, CAPTURE, CAPTURE_TRADES, CAPTURE_TRADES_MIN, KLINES_5M,
                      Populated)

KLINE_DECIMALS = {1: "open", 2: "high", 3: "low", 4: "close", 5: "volume",
                  7: "quote_asset_volume", 9: "taker_buy_base_asset_volume",
                  10: "taker_buy_quote_asset_volume", 11: "ignore_value"}


def kline_rows(shared: Path, days: int = 2) -> list[list[str]]:
    """The source CSV rows the candles workflow loaded (2020-07-01, 2020-07-02)."""
    end_ms = 1593561600000 + days * 86_400_000
    with open(shared / KLINES_5M, newline="") as f:
        return [row for row in csv.reader(f) if int(row[0]) < end_ms]


def agg_trade_rows(shared: Path) -> list[list[str]]:
    with open(shared / AGG_TRADES, newline="") as f:
        return list(csv.reader(f))


def capture_trades(shared: Path) -> dict[int, tuple[str, str]]:
    """trade id -> (price text, quantity text) of the recorded @trade frames."""
    out: dict[int, tuple[str, str]] = {}
    with gzip.open(shared / CAPTURE, "rt") as f:
        for line in f:
            frame = line.partition(" ")[2]
            if '"stream":"btcusdt@trade"' in frame:
                data = json.loads(frame)["data"]
                out[int(data["t"])] = (data["p"], data["q"])
    return out


def test_candles_match_the_source_rows(store: sf.Store, shared: Path) -> None:
    rows = kline_rows(shared)
    frame = store.candles("BTCUSDT", "5m")
    assert len(frame) == len(rows) == 576
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index.name == "open_time" and frame.index.is_monotonic_increasing
    expected_index = pd.to_datetime([int(r[0]) for r in rows], unit="ms", utc=True)
    assert (frame.index == expected_index).all()
    for position, name in KLINE_DECIMALS.items():
        assert frame[name].dtype == np.float64
        np.testing.assert_array_equal(frame[name].to_numpy(), [float(r[position]) for r in rows])
    assert (frame["number_of_trades"].to_numpy() == [int(r[8]) for r in rows]).all()
    assert (frame["close_time"] == pd.to_datetime([int(r[6]) for r in rows], unit="ms",
                                                  utc=True)).all()


def test_exact_decimals_round_trip_byte_for_byte(store: sf.Store, shared: Path) -> None:
    """Decimal text in the source file -> C++ -> store -> Python: str() gives the same bytes."""
    rows = kline_rows(shared)
    candles = store.candles("BTCUSDT", "5m", exact=True)
    for position, name in KLINE_DECIMALS.items():
        values = candles[name].tolist()
        assert all(isinstance(v, Decimal) for v in values)
        assert [str(v) for v in values] == [r[position] for r in rows], name
    trades = store.agg_trades("BTCUSDT", exact=True)
    source = agg_trade_rows(shared)
    assert [str(v) for v in trades["price"]] == [r[1] for r in source]
    assert [str(v) for v in trades["quantity"]] == [r[2] for r in source]
    assert trades["agg_trade_id"].tolist() == [int(r[0]) for r in source]
    # float mode is the nearest double to the same text
    floats = store.agg_trades("BTCUSDT")
    np.testing.assert_array_equal(floats["price"].to_numpy(), [float(r[1]) for r in source])


def test_trades_from_the_replayed_capture(store: sf.Store, shared: Path) -> None:
    recorded = capture_trades(shared)
    assert len(recorded) == CAPTURE_TRADES
    frame = store.trades("BTCUSDT", exact=True)
    assert CAPTURE_TRADES_MIN <= len(frame) <= CAPTURE_TRADES
    assert frame.index.name == "trade_time" and frame.index.is_monotonic_increasing
    got = {int(i): (str(p), str(q)) for i, p, q in
           zip(frame["trade_id"], frame["price"], frame["quantity"])}
    assert got == {i: recorded[i] for i in got}  # every stored trade as recorded, byte for byte
    # ids are dense from the first stored one to the recording's last (only a head can be missed)
    assert sorted(got) == list(range(min(got), max(recorded) + 1))
    assert frame["is_buyer_maker"].dtype == bool
    assert str(frame["is_best_match"].dtype) == "boolean"


def test_time_range_is_half_open(store: sf.Store) -> None:
    full = store.candles("BTCUSDT", "5m")
    start, end = full.index[100], full.index[110]
    window = store.candles("BTCUSDT", "5m", start=start, end=end)
    assert len(window) == 10
    assert window.index[0] == start and window.index[-1] == full.index[109]
    # the same bounds as strings, datetimes and raw microseconds
    as_text = store.candles("BTCUSDT", "5m", start=start.isoformat(), end=end.isoformat())
    as_micros = store.candles("BTCUSDT", "5m", start=int(start.value // 1000),
                              end=int(end.value // 1000))
    naive = store.candles("BTCUSDT", "5m", start=start.tz_localize(None).to_pydatetime(),
                          end=end.tz_localize(None).to_pydatetime())
    for other in (as_text, as_micros, naive):
        pd.testing.assert_frame_equal(window, other)
    # microsecond edges of aggregate trades: a trade exactly at `end` is excluded, at `start` kept
    trades = store.agg_trades("BTCUSDT")
    t0, t1 = trades.index[10], trades.index[20]
    edge = store.agg_trades("BTCUSDT", start=t0, end=t1)
    assert edge.index[0] == t0 and edge.index.max() < t1
    assert len(edge) == int(((trades.index >= t0) & (trades.index < t1)).sum())
    one_us = pd.Timedelta(microseconds=1)
    assert len(store.agg_trades("BTCUSDT", start=t1, end=t1)) == 0
    assert store.agg_trades("BTCUSDT", start=t1 - one_us, end=t1 + one_us).index[0] == t1


@pytest.mark.parametrize("reader", ["candles", "trades", "agg_trades", "book_snapshots",
                                    "indicators"])
def test_unknown_symbol_gives_an_empty_frame_with_the_columns(store: sf.Store,
                                                              reader: str) -> None:
    known = getattr(store, reader)("BTCUSDT")
    empty = getattr(store, reader)("NOSUCHCOIN")
    assert len(known) > 0 and len(empty) == 0
    assert list(empty.columns) == list(known.columns)
    if reader != "book_snapshots":  # bids/asks are object columns either way
        assert empty.dtypes.equals(known.dtypes)
    assert isinstance(empty.index, pd.DatetimeIndex) and str(empty.index.tz) == "UTC"
    assert empty.index.name == known.index.name


def test_symbol_lists_and_interval_filters(store: sf.Store) -> None:
    assert store.symbols() == ["BTCUSDT"]
    assert store.symbols("agg_trades") == ["BTCUSDT"]
    assert len(store.candles(["BTCUSDT", "ETHUSDT"], "5m")) == 576
    assert len(store.candles("BTCUSDT", "1h")) == 0
    assert len(store.candles([], "5m")) == 0
    with pytest.raises(ValueError):
        store.symbols("workflows")


def test_indicators_long_and_wide(store: sf.Store) -> None:
    candles = store.candles("BTCUSDT", "5m", end="2020-07-03")
    long = store.indicators("BTCUSDT", "5m", end="2020-07-03")
    assert {"sma_20", "rsi_14", "rv_20", "vwap"} <= set(long["name"])
    wide = store.indicators("BTCUSDT", "5m", names=["sma_20", "ema_20"], end="2020-07-03",
                            wide=True)
    assert list(wide.columns) == ["ema_20", "sma_20"]
    assert wide.index.isin(candles.index).all()
    # sma_20 recomputed from the candles' closes
    sma = candles["close"].rolling(20).mean().dropna()
    np.testing.assert_allclose(wide["sma_20"].reindex(sma.index).to_numpy(), sma.to_numpy(),
                               rtol=1e-12)


def test_book_snapshots(store: sf.Store) -> None:
    book = store.book_snapshots("BTCUSDT")
    exact = store.book_snapshots("BTCUSDT", exact=True)
    assert len(book) >= 3 and book["last_update_id"].is_monotonic_increasing
    for bids, asks in zip(book["bids"], book["asks"]):
        assert bids.shape[1] == 2 and len(bids) > 0 and len(asks) > 0
        assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all()
        assert bids[0, 0] < asks[0, 0]  # never crossed
    first = exact["bids"].iloc[0][0]
    assert isinstance(first[0], Decimal) and float(first[0]) == book["bids"].iloc[0][0, 0]
    levels = sf.book_levels(book, depth=5)
    assert set(levels["side"]) == {"bid", "ask"} and levels["level"].max() == 4
    assert len(levels) == 10 * len(book)
    exact_levels = sf.book_levels(exact, depth=1)
    assert isinstance(exact_levels["price"].iloc[0], Decimal)


def test_graph_nodes_edges_labels(store: sf.Store, populated: Populated) -> None:
    name = populated.workflows["graph"]
    listed = store.graphs()
    assert name in set(listed["name"])
    graph = store.graph(name)
    row = listed[listed["name"] == name].iloc[0]
    assert len(graph.nodes) == row["node_count"] and len(graph.edges) == row["edge_count"]
    features = graph.meta["feature_names"]
    assert list(graph.nodes.columns[-len(features):]) == features
    assert all(graph.nodes[f].dtype == np.float32 for f in features)
    assert isinstance(graph.nodes.index, pd.DatetimeIndex)
    assert set(graph.labels["direction"].unique()) <= {-1, 0, 1, 2}
    assert graph.edges["src"].between(0, len(graph.nodes) - 1).all()
    with pytest.raises(KeyError):
        store.graph("no-such-graph")


def test_workflows_and_telemetry(store: sf.Store, populated: Populated) -> None:
    workflows = store.workflows()
    by_id = workflows.set_index("queue_id")
    assert by_id.loc[populated.workflows["candles"], "status"] == "finished"
    assert by_id.loc[populated.workflows["candles"], "template"] == "historical-load"
    assert by_id.loc[populated.workflows["candles"], "params"]["from"] == "2020-07-01"
    assert by_id.loc[populated.workflows["capture"], "status"] == "interrupted"
    finished = set(store.workflows(status="finished")["queue_id"])
    assert {populated.workflows[k] for k in ("candles", "agg_trades", "graph")} <= finished
    assert populated.workflows["capture"] not in finished
    events = store.telemetry(populated.workflows["candles"])
    assert set(events["queue_id"]) == {populated.workflows["candles"]}
    assert "finished" in set(events["status"])
    assert events.index.is_monotonic_increasing and str(events.index.tz) == "UTC"
    late = store.telemetry(populated.workflows["candles"], start=events.index[-1])
    assert len(late) >= 1 and late.index.min() >= events.index[-1]


def test_chunked_reads_equal_whole_reads(store: sf.Store, populated: Populated) -> None:
    whole = store.agg_trades("BTCUSDT", exact=True)
    pieces = list(store.iter_agg_trades("BTCUSDT", exact=True, chunk_rows=700))
    assert len(pieces) == 8 and all(len(p) <= 700 for p in pieces)
    pd.testing.assert_frame_equal(pd.concat(pieces), whole)
    with sf.connect(populated.url, chunk_rows=333) as small:
        pd.testing.assert_frame_equal(small.trades("BTCUSDT"), store.trades("BTCUSDT"))
        pd.testing.assert_frame_equal(small.candles(), store.candles())
    assert list(store.iter_trades("NOSUCHCOIN")) == []
    assert sum(len(c) for c in store.iter_candles("BTCUSDT", "5m", chunk_rows=100)) == 576


def test_both_stores_read_the_same(sqlite_store: Populated, postgres_store: Populated) -> None:
    """The same workflows over the same files give equal frames from SQLite and PostgreSQL."""
    with sf.connect(sqlite_store.url) as lite, sf.connect(postgres_store.url) as pg:
        for exact in (False, True):
            pd.testing.assert_frame_equal(lite.candles(exact=exact), pg.candles(exact=exact))
            pd.testing.assert_frame_equal(lite.agg_trades(exact=exact),
                                          pg.agg_trades(exact=exact))
            # receive times are the local clock of each capture run
            # (and each capture may have missed a different number of the first trades)
            a = lite.trades(exact=exact).drop(columns="receive_time")
            b = pg.trades(exact=exact).drop(columns="receive_time")
            first = max(a["trade_id"].min(), b["trade_id"].min())
            pd.testing.assert_frame_equal(a[a["trade_id"] >= first], b[b["trade_id"] >= first])
        pd.testing.assert_frame_equal(lite.indicators(), pg.indicators())
        a = lite.graph(sqlite_store.workflows["graph"])
        b = pg.graph(postgres_store.workflows["graph"])
        pd.testing.assert_frame_equal(a.nodes, b.nodes)  # float32 features bit for bit
        pd.testing.assert_frame_equal(a.labels, b.labels)
        pd.testing.assert_frame_equal(a.edges, b.edges)
