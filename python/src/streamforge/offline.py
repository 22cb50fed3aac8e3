"""Offline data for notebooks: the recordings in ../shared/data, served the way Binance serves them.

The 13-pair 2022 5m set is in freqtrade's JSON layout ([open_time_ms, o, h, l, c, base_volume]),
which exchange-sim does not serve; klines_csv() writes a slice of it as Binance's 12-column kline
CSV, named as data.binance.vision names it, so the platform loads it through its ordinary REST
path. The numbers keep the exact digits of the JSON text. Fields freqtrade did not keep are
written as 0 and must not be analysed: quote asset volume, number of trades, taker buy base and
quote volume.
"""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ._timeconv import TimeLike, to_micros

FREQTRADE_DIR = "klines_5m_2022_freqtrade"
FREQTRADE_PAIRS = ("BTC", "ADA", "ATOM", "AVAX", "DOT", "LINK", "MATIC", "NEAR", "SOL", "XRP",
                   "TRX", "LUNA", "SAND")
_INTERVAL_MS = {"5m": 300_000}


def freqtrade_file(shared: Path, symbol: str, interval: str = "5m") -> Path:
    """The freqtrade JSON of a USDT pair: BTCUSDT -> klines_5m_2022_freqtrade/BTC_USDT-5m.json."""
    if not symbol.endswith("USDT"):
        raise ValueError(f"{symbol}: the freqtrade set holds USDT pairs only")
    return shared / FREQTRADE_DIR / f"{symbol[:-4]}_USDT-{interval}.json"


def _text(value: Decimal | int) -> str:
    """The number as plain decimal text (never exponent notation; integers as written)."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def klines_csv(shared: Path, symbol: str, start: TimeLike, end: TimeLike, out_dir: Path,
               interval: str = "5m") -> Path:
    """Writes the candles of [start, end) of `symbol` as OUT_DIR/SYMBOL-INTERVAL-YYYY-MM.csv
    (Binance's 12 columns, no header) and returns the path. The JSON's numbers are read as
    decimals, so each price and volume keeps the digits it was written with."""
    step = _INTERVAL_MS[interval]
    lo, hi = to_micros(start) // 1000, to_micros(end) // 1000
    rows = json.loads(freqtrade_file(shared, symbol, interval).read_text(), parse_float=Decimal)
    first = pd.Timestamp(lo, unit="ms", tz="UTC")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{symbol}-{interval}-{first:%Y-%m}.csv"
    with open(path, "w", newline="") as out:
        for t, o, h, low, c, v in rows:
            if lo <= t < hi:
                fields = [str(t), _text(o), _text(h), _text(low), _text(c), _text(v),
                          str(t + step - 1), "0", "0", "0", "0", "0"]
                out.write(",".join(fields) + "\n")
    return path


def internet_available(url: str = "https://api.binance.com/api/v3/ping",
                       timeout: float = 3.0) -> bool:
    """Whether Binance answers (the notebooks then load real, recent data)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except OSError:
        return False
