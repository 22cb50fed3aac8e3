#!/usr/bin/env python3
"""ccxt (an independent Binance client) against exchange-sim, compared with the source files.

Usage: ccxt_check.py REST_BASE_URL SHARED_DATA_DIR

Only the base URL differs from talking to Binance: ccxt's spot endpoints ('public' and
'private', plus 'v1' and 'sapi' which load_markets never needs once fetchCurrencies is off) point
at the simulator, and load_markets is kept on spot. Then:
  - load_markets() reads /api/v3/exchangeInfo and must know BTC/USDT;
  - fetch_ohlcv('BTC/USDT', '5m') paged with since/limit over 2020-07-01..2020-07-09 must give the
    2,592 bars of BTCUSDT-5m-2020-07-01_2020-07-11.csv (time equal, OHLCV equal as decimals);
  - fetch_trades('BTC/USDT', since, limit=1000), then four more pages by fromId, must give the
    5,000 aggregate trades of BTCUSDT-aggTrades-2026-01-01_first5000.csv (id, ms timestamp,
    price and amount as decimals, side);
  - fetch_time() must be the simulator's clock.
Exits 0 and prints "ccxt check passed" on success, 1 on a mismatch, 77 when ccxt is missing.
"""
import csv
import os
import sys
import time
from decimal import Decimal

try:
    import ccxt
except ImportError:
    print("ccxt is not installed (run scripts/install-test-python.sh)")
    sys.exit(77)

KLINES_FILE = "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv"
AGG_TRADES_FILE = "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv"
FIRST_OPEN_MS = 1593561600000  # 2020-07-01 00:00 UTC
LAST_MS = 1594339199999  # 2020-07-09 23:59:59.999 UTC
FIVE_MINUTES_MS = 300_000

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def same_decimal(value, text):
    # ccxt returns floats by default; their shortest repr is the decimal the string held.
    return Decimal(str(value)) == Decimal(text)


def read_csv(data_dir, relative):
    with open(os.path.join(data_dir, relative), newline="") as f:
        return [row for row in csv.reader(f) if row]


def make_exchange(base_url):
    api = base_url + "/api/v3"
    return ccxt.binance(
        {
            "urls": {
                "api": {
                    "public": api,
                    "private": api,
                    "v1": base_url + "/api/v1",
                    "sapi": base_url + "/sapi/v1",
                }
            },
            "options": {
                "defaultType": "spot",
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
            },
            "enableRateLimit": False,
            "timeout": 10000,
        }
    )


def check_ohlcv(exchange, data_dir):
    rows = [r for r in read_csv(data_dir, KLINES_FILE) if FIRST_OPEN_MS <= int(r[0]) <= LAST_MS]
    bars = []
    since = FIRST_OPEN_MS
    while since <= LAST_MS:
        page = [b for b in exchange.fetch_ohlcv("BTC/USDT", "5m", since=since, limit=1000)
                if b[0] <= LAST_MS]
        if not page:
            break
        bars.extend(page)
        since = page[-1][0] + FIVE_MINUTES_MS
    check(len(bars) == len(rows) == 2592, f"ohlcv: {len(bars)} bars, {len(rows)} source rows")
    for bar, row in zip(bars, rows):
        if not check(bar[0] == int(row[0]), f"ohlcv time {bar[0]} != {row[0]}"):
            break
        for i in range(1, 6):
            if not check(same_decimal(bar[i], row[i]), f"ohlcv {row[0]} field {i}: {bar[i]} != {row[i]}"):
                break
    return len(bars)


def check_trades(exchange, data_dir):
    rows = read_csv(data_dir, AGG_TRADES_FILE)
    first_ms = int(rows[0][5]) // 1000
    trades = exchange.fetch_trades("BTC/USDT", since=first_ms, limit=1000)
    while len(trades) < len(rows):
        page = exchange.fetch_trades("BTC/USDT", limit=1000,
                                     params={"fromId": int(trades[-1]["id"]) + 1})
        if not page:
            break
        trades.extend(page)
    check(len(trades) == len(rows) == 5000, f"trades: {len(trades)} trades, {len(rows)} source rows")
    for trade, row in zip(trades, rows):
        expected_side = "sell" if row[6] == "True" else "buy"  # buyer is maker: the taker sold
        ok = (check(trade["id"] == row[0], f"trade id {trade['id']} != {row[0]}")
              and check(trade["timestamp"] == int(row[5]) // 1000,
                        f"trade {row[0]} time {trade['timestamp']} != {row[5]} µs")
              and check(same_decimal(trade["price"], row[1]),
                        f"trade {row[0]} price {trade['price']} != {row[1]}")
              and check(same_decimal(trade["amount"], row[2]),
                        f"trade {row[0]} amount {trade['amount']} != {row[2]}")
              and check(trade["side"] == expected_side,
                        f"trade {row[0]} side {trade['side']} != {expected_side}"))
        if not ok:
            break
    return len(trades)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    base_url, data_dir = sys.argv[1], sys.argv[2]
    exchange = make_exchange(base_url)
    markets = exchange.load_markets()
    check("BTC/USDT" in markets, "load_markets: no BTC/USDT")
    check(markets.get("BTC/USDT", {}).get("id") == "BTCUSDT", "load_markets: BTC/USDT id")
    bars = check_ohlcv(exchange, data_dir)
    trades = check_trades(exchange, data_dir)
    server_time = exchange.fetch_time()
    check(abs(server_time - time.time() * 1000) < 60_000, f"fetch_time: {server_time}")
    if failures:
        print("ccxt check FAILED:")
        for failure in failures[:20]:
            print("  " + failure)
        return 1
    print(f"ccxt check passed: ccxt {ccxt.__version__}, {len(markets)} markets, {bars} 5m bars, "
          f"{trades} trades")
    return 0


if __name__ == "__main__":
    sys.exit(main())
