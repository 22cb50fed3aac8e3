#!/usr/bin/env python3
"""Reading 1,000,000 stored trades into a DataFrame: the streamforge package vs pandas.read_sql.

The store's schema is created by the C++ binary itself (`streamforge run` migrates a fresh store
and is stopped), then N **synthetic** trades (symbol SYNTHUSDT, a random walk of prices written as
8-decimal text like Binance's, labelled synthetic, never market data) are written straight into
its `trades` table: sqlite3 executemany in one transaction, PostgreSQL COPY. The same query is then
read, in one run and alternating, by

  streamforge   Store.trades("SYNTHUSDT")               float64 prices, UTC DatetimeIndex
  exact         Store.trades("SYNTHUSDT", exact=True)   decimal.Decimal prices
  read_sql      pandas.read_sql(same SELECT, DBAPI connection)   raw columns (text / Decimal)
  read_sql+conv read_sql, then the conversions that give streamforge's frame

Times are the median of --repeat runs; peak memory (tracemalloc, numpy included) from one extra run
each. Usage:

  python bench/python/read_trades_bench.py [--rows 1000000] [--repeat 3]
      [--postgres DSN]      (default: SF_TEST_POSTGRES_DSN when set; SQLite always)
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import secrets
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import streamforge as sf
from streamforge.embedded import EmbeddedPlatform

SYMBOL = "SYNTHUSDT"
COLUMNS = ("symbol, trade_id, price, quantity, trade_time, event_time, receive_time, "
           "is_buyer_maker, is_best_match")


def synthetic_rows(n: int) -> Iterator[tuple[Any, ...]]:
    """Deterministic synthetic trades: ids 1..n, a price random walk around 60,000 in cents,
    quantities of 1e-5..1, one trade every 0..20 ms."""
    rng = np.random.default_rng(15)
    cents = 6_000_000 + np.cumsum(rng.integers(-3, 4, n))
    qty = rng.integers(1_000, 100_000_000, n)
    t = 1_723_161_600_000_000 + np.cumsum(rng.integers(0, 20_000, n))
    maker = rng.integers(0, 2, n)
    for i in range(n):
        c, q = int(cents[i]), int(qty[i])
        yield (SYMBOL, i + 1, f"{c // 100}.{c % 100:02d}000000", f"{q // 100_000_000}.{q % 100_000_000:08d}",
               int(t[i]), int(t[i]) + 1_000, int(t[i]) + 2_000, int(maker[i]), 1)


def create_schema(store_url: str, workdir: Path) -> None:
    """The C++ side creates (migrates) the store; nothing else runs."""
    EmbeddedPlatform(store_url, workdir=workdir).stop()


def fill_sqlite(path: Path, n: int) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executemany(f"INSERT INTO trades ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                       synthetic_rows(n))
    db.close()


def fill_postgres(dsn: str, n: int) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY trades ({COLUMNS}) FROM STDIN") as copy:
            for row in synthetic_rows(n):
                copy.write_row(row[:7] + (bool(row[7]), bool(row[8])))
        conn.commit()
        cur.execute("ANALYZE trades")
        conn.commit()


def converted(raw: pd.DataFrame) -> pd.DataFrame:
    """What a read_sql user does to get streamforge's frame from the raw columns."""
    out = raw.copy()
    for c in ("price", "quantity"):
        out[c] = pd.to_numeric(out[c].astype(str)) if out[c].dtype == object else out[c].astype(float)
    for c in ("trade_time", "event_time", "receive_time"):
        out[c] = pd.to_datetime(out[c], unit="us", utc=True)
    out["is_buyer_maker"] = out["is_buyer_maker"].astype(bool)
    return out.set_index("trade_time")


def measure(fn: Callable[[], pd.DataFrame], repeat: int) -> tuple[float, float, int]:
    times = []
    rows = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        frame = fn()
        times.append(time.perf_counter() - start)
        rows = len(frame)
        del frame
    gc.collect()
    tracemalloc.start()
    frame = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del frame
    return statistics.median(times), peak / 2**20, rows


def bench(label: str, url: str, dbapi: Callable[[], Any], query: str, params: Any,
          repeat: int) -> list[dict[str, Any]]:
    store = sf.connect(url)
    conn = dbapi()
    methods: dict[str, Callable[[], pd.DataFrame]] = {
        "streamforge": lambda: store.trades(SYMBOL),
        "streamforge exact": lambda: store.trades(SYMBOL, exact=True),
        "pandas.read_sql": lambda: pd.read_sql(query, conn, params=params),
        "pandas.read_sql + conversion": lambda: converted(pd.read_sql(query, conn, params=params)),
    }
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas: a DBAPI2 connection, not SQLAlchemy
        for name, fn in methods.items():
            seconds, peak, rows = measure(fn, repeat)
            results.append({"store": label, "method": name, "rows": rows, "seconds": seconds,
                            "rows_per_s": rows / seconds, "peak_mib": peak})
            print(f"{label:10s} {name:30s} {rows:>9,} rows  {seconds:7.3f} s  "
                  f"{rows / seconds / 1e6:5.2f} M rows/s  peak {peak:7.1f} MiB", flush=True)
    store.close()
    conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("SF_TEST_POSTGRES_DSN", ""))
    args = parser.parse_args()
    print(f"{args.rows:,} synthetic trades; python {platform.python_version()}, pandas "
          f"{pd.__version__}, numpy {np.__version__}, sqlite {sqlite3.sqlite_version}; "
          f"{os.cpu_count()} CPUs")
    query = f"SELECT {COLUMNS} FROM trades WHERE symbol = ? ORDER BY symbol, trade_time, trade_id"
    results = []
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        work = Path(tmp)
        path = work / "trades.db"
        create_schema(f"sqlite:{path}", work / "platform-sqlite")
        start = time.perf_counter()
        fill_sqlite(path, args.rows)
        print(f"sqlite: wrote {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
        results += bench("sqlite", f"sqlite:{path}", lambda: sqlite3.connect(path), query,
                         (SYMBOL,), args.repeat)
        if args.postgres:
            import psycopg

            schema = f"sf_bench_{secrets.token_hex(4)}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in args.postgres else "?"
            dsn = args.postgres + sep + "options=" + urllib.parse.quote(f"-csearch_path={schema}", safe="")
            try:
                create_schema(dsn, work / "platform-postgres")
                start = time.perf_counter()
                fill_postgres(dsn, args.rows)
                print(f"postgres: wrote {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
                results += bench("postgres", dsn, lambda: psycopg.connect(dsn),
                                 query.replace("?", "%s"), (SYMBOL,), args.repeat)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    table = pd.DataFrame(results)
    for label, group in table.groupby("store", sort=False):
        base = group.set_index("method").loc["pandas.read_sql", "seconds"]
        ours = group.set_index("method").loc["streamforge", "seconds"]
        print(f"{label}: streamforge / read_sql time ratio {ours / base:.2f} "
              f"({'no slower' if ours <= base else 'slower'})")


if __name__ == "__main__":
    main()
