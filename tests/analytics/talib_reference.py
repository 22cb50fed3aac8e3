#!/usr/bin/env python3
"""Reference indicator values for tests/analytics/indicators_test.cc.

    talib_reference.py OHLCV_JSON OUT_CSV

OHLCV_JSON is a freqtrade 5m file ([[open_ms, open, high, low, close, volume], ...]). Writes a CSV
with a header (open_time_ms, then one column per indicator, named as StreamForge names them) and
one row per candle; values are repr() floats (round-trip exact), empty where undefined.

TA-Lib (PyPI `ta-lib`) computes every indicator it has; VWAP (anchored per UTC day) and realized
volatility (sample std of log returns) are not in TA-Lib and are computed here independently in
plain Python/numpy, straight from their definitions (no running sums).
Exit code 3 when numpy or talib cannot be imported (the test skips on it).
"""
import json
import math
import sys

try:
    import numpy as np
    import talib
except ImportError as e:  # pragma: no cover
    print(f"missing python module: {e}", file=sys.stderr)
    sys.exit(3)


def vwap_daily(t, h, l, c, v):
    out = []
    day, pv, vol = None, 0.0, 0.0
    for i in range(len(t)):
        d = t[i] // 86_400_000
        if d != day:
            day, pv, vol = d, 0.0, 0.0
        tp = (h[i] + l[i] + c[i]) / 3.0
        pv += tp * v[i]
        vol += v[i]
        out.append(pv / vol if vol > 0 else tp)
    return np.array(out)


def realized_vol(c, window):
    out = np.full(len(c), np.nan)
    r = [math.log(c[i] / c[i - 1]) for i in range(1, len(c))]
    for i in range(window, len(c)):
        w = np.array(r[i - window:i])  # returns ending at candle i
        out[i] = float(np.std(w, ddof=1))
    return out


def main():
    rows = json.load(open(sys.argv[1]))
    t = [int(r[0]) for r in rows]
    o, h, l, c, v = (np.array([float(r[k]) for r in rows], dtype=np.float64) for k in range(1, 6))
    cols = {}
    for p in (20, 9):
        cols[f"sma_{p}"] = talib.SMA(c, timeperiod=p)
        cols[f"ema_{p}"] = talib.EMA(c, timeperiod=p)
    cols["sma_10_high"] = talib.SMA(h, timeperiod=10)
    cols["rsi_14"] = talib.RSI(c, timeperiod=14)
    cols["rsi_6"] = talib.RSI(c, timeperiod=6)
    m, s, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    cols.update({"macd_12_26_9": m, "macd_signal_12_26_9": s, "macd_hist_12_26_9": hist})
    m, s, hist = talib.MACD(c, fastperiod=5, slowperiod=35, signalperiod=5)
    cols.update({"macd_5_35_5": m, "macd_signal_5_35_5": s, "macd_hist_5_35_5": hist})
    up, mid, lo = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    cols.update({"bb_upper_20_2": up, "bb_middle_20_2": mid, "bb_lower_20_2": lo})
    up, mid, lo = talib.BBANDS(c, timeperiod=10, nbdevup=1.5, nbdevdn=3, matype=0)
    cols.update({"bb_upper_10_1.5_3": up, "bb_middle_10_1.5_3": mid, "bb_lower_10_1.5_3": lo})
    cols["atr_14"] = talib.ATR(h, l, c, timeperiod=14)
    cols["atr_5"] = talib.ATR(h, l, c, timeperiod=5)
    cols["obv"] = talib.OBV(c, v)
    cols["vwap"] = vwap_daily(t, h, l, c, v)
    cols["rv_20"] = realized_vol(c, 20)
    with open(sys.argv[2], "w") as f:
        names = list(cols)
        f.write("open_time_ms," + ",".join(names) + "\n")
        for i in range(len(t)):
            vals = []
            for n in names:
                x = float(cols[n][i])
                vals.append("" if math.isnan(x) else repr(x))
            f.write(str(t[i]) + "," + ",".join(vals) + "\n")


if __name__ == "__main__":
    main()
