"""Fixtures: real stores written by the C++ platform, one SQLite and one PostgreSQL.

The Python reader is tested against what the C++ side really writes, not against rows the tests
insert themselves: each store is filled by the embedded platform (`streamforge run`) loading the
offline Binance recordings in ../shared/data through exchange-sim, with the same workflows an
analyst would start (historical-load, historical-gnn, and a live capture of the recorded
WebSocket streams for trades and book snapshots).

PostgreSQL comes from SF_TEST_POSTGRES_DSN (scripts/test.sh starts `scripts/postgres.sh`); without
it the PostgreSQL cases skip, unless SF_REQUIRE_SERVERS=1 says CI must have it, then they fail.
"""

from __future__ import annotations

import os
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import streamforge as sf
from streamforge.embedded import EmbeddedPlatform, ExchangeSim, shared_data_dir

CAPTURE = "hftbacktest_ws_spot/btcusdt_20240808.gz"
CAPTURE_TRADES = 9757  # @trade frames in CAPTURE (../shared/data/README.md)
# Stored trades may miss the first few (see populate); at least this many must arrive.
CAPTURE_TRADES_MIN = 9500
KLINES_5M = "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv"
AGG_TRADES = "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv"

# A capture-only workflow: the realtime-monitor's trade and depth stages, with top-of-book
# snapshots every 20 ms of wall time, so a replay at full speed still leaves several.
BOOK_CAPTURE = {
    "name": "book-capture",
    "description": "recorded trades and book snapshots for the Python tests",
    "parameters": {"symbol": {"required": True}},
    "stages": [
        {"name": "ws-depth", "service": "loader-ws", "output": "depth",
         "env": {"TYPE": "ws_depth", "SNAPSHOT_INTERVAL_MS": "20", "BOOK_TICKER_CHECK": "false"}},
        {"name": "ws-trades", "service": "loader-ws", "output": "trades",
         "env": {"TYPE": "ws_trades"}},
        {"name": "persist-depth", "service": "arango-connector", "inputs": ["ws-depth"],
         "start": "alongside", "env": {"TYPE": "depth", "FINISH_WHEN": "never"}},
        {"name": "persist-trades", "service": "arango-connector", "inputs": ["ws-trades"],
         "start": "alongside", "env": {"TYPE": "trades", "FINISH_WHEN": "never"}},
    ],
}


@dataclass
class Populated:
    """A store the platform filled, and what was started to fill it."""

    url: str
    workflows: dict[str, str] = field(default_factory=dict)  # purpose -> queue_id
    platform: EmbeddedPlatform | None = None


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_data_dir()
    if path is None or not (path / KLINES_5M).is_file():
        pytest.skip("../shared/data (SF_SHARED_DATA) is absent: the store fixtures need the "
                    "offline Binance recordings")
    return path


def _count(url: str, table: str) -> int:
    with sf.connect(url) as store:
        if table == "trades":
            return len(store.trades())
        return len(store.book_snapshots())


def populate(url: str, shared: Path, workdir: Path, platform_env: dict[str, str]) -> Populated:
    """Fills the store at `url` through the platform; returns it with the platform still running
    (the API tests use it) and the simulator stopped."""
    result = Populated(url)
    sim = ExchangeSim(shared, replay=[shared / CAPTURE], speed="max", workdir=workdir / "sim")
    platform = EmbeddedPlatform(url, env={**platform_env, **sim.env}, workdir=workdir / "run")
    try:
        api = platform.api
        runs = {
            "candles": dict(template="historical-load", symbol="BTCUSDT", start="2020-07-01",
                            end="2020-07-03", interval="5m"),
            "agg_trades": dict(template="historical-load", symbol="BTCUSDT", start="2026-01-01",
                               end="2026-01-02", interval="5m"),
            "graph": dict(template="historical-gnn", symbol="BTCUSDT", start="2020-07-01",
                          end="2020-07-03", interval="5m", params={"epochs": "2"}),
        }
        for purpose, kwargs in runs.items():
            result.workflows[purpose] = api.run_workflow(timeout=300, **kwargs)["queue_id"]
        capture = api.start_workflow(symbol="BTCUSDT", workflow=BOOK_CAPTURE)["queue_id"]
        # The replay is one timeline that starts with the first WebSocket client, as a live
        # stream would: a stage that connects a moment later misses the first frames, so the
        # capture is over when the stored trades stop growing, not at a fixed count.
        deadline = time.monotonic() + 120
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = _count(url, "trades")
            if count != last:
                last, stable_since = count, time.monotonic()
            elif count > 0 and time.monotonic() - stable_since > 2 and _count(url, "book") >= 3:
                break
            time.sleep(0.25)
        api.stop(capture)
        api.wait(capture, timeout=60, check=False)
        result.workflows["capture"] = capture
    except BaseException:
        platform.stop()
        raise
    finally:
        sim.stop()
    result.platform = platform
    return result


@pytest.fixture(scope="session")
def sqlite_store(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    work = tmp_path_factory.mktemp("sqlite")
    populated = populate(f"sqlite:{work / 'streamforge.db'}", shared, work, {})
    yield populated
    assert populated.platform is not None
    populated.platform.stop()


def postgres_dsn() -> str:
    """SF_TEST_POSTGRES_DSN; skips without it, fails without it when SF_REQUIRE_SERVERS=1."""
    dsn = os.environ.get("SF_TEST_POSTGRES_DSN", "")
    if not dsn:
        message = "SF_TEST_POSTGRES_DSN is not set (scripts/postgres.sh start)"
        if os.environ.get("SF_REQUIRE_SERVERS") == "1":
            pytest.fail(message + " but SF_REQUIRE_SERVERS=1", pytrace=False)
        pytest.skip(message)
    return dsn


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with libpq's options=-csearch_path=SCHEMA, as the C++ store accepts it."""
    separator = "&" if "?" in dsn else "?"
    return dsn + separator + "options=" + urllib.parse.quote(f"-csearch_path={schema}", safe="")


@pytest.fixture(scope="session")
def postgres_store(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    import psycopg

    dsn = postgres_dsn()
    schema = f"sf_python_test_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    work = tmp_path_factory.mktemp("postgres")
    try:
        populated = populate(with_search_path(dsn, schema), shared, work, {})
        assert populated.platform is not None
        populated.platform.stop()
        populated.platform = None
        yield populated
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def populated(request: pytest.FixtureRequest) -> Populated:
    """Each store test runs on both stores."""
    fixture: Populated = request.getfixturevalue(f"{request.param}_store")
    return fixture


@pytest.fixture
def store(populated: Populated) -> Iterator[sf.Store]:
    with sf.connect(populated.url) as opened:
        yield opened
