#!/usr/bin/env python3
# Usage: derive_klines.py OUT.gz SYMBOL_LOWER CAPTURE.gz...
# For replays of recorded Binance WebSocket captures that have trades but no klines
# (../shared/data/hftbacktest_ws_spot): copies every capture line unchanged and inserts
# <sym>@kline_1m frames derived from its @trade frames, with exact decimal sums as Binance builds
# them (open updates at most every 2 s of exchange time; the closed kline right before the first
# trade of the next minute). Used by scripts/scenario2.sh and the dashboard's browser test.
import gzip, json, os, sys
from decimal import Decimal
out, sym, files = sys.argv[1], sys.argv[2], sys.argv[3:]
IV, IVMS, STEP = "1m", 60_000, 2_000
Q8 = Decimal("0.00000001")
fmt = lambda d: format(d.quantize(Q8), "f")
k = None  # the kline in progress
last_e = 0
def frame(recv, e, closed):
    global last_e
    e = max(e, last_e + 1) if closed else e
    last_e = e
    body = {"t": k["t"], "T": k["t"] + IVMS - 1, "s": k["s"], "i": IV, "f": k["f"], "L": k["L"],
            "o": fmt(k["o"]), "c": fmt(k["c"]), "h": fmt(k["h"]), "l": fmt(k["l"]),
            "v": fmt(k["v"]), "n": k["n"], "x": closed, "q": fmt(k["q"]), "V": fmt(k["V"]),
            "Q": fmt(k["Q"]), "B": "0"}
    data = {"e": "kline", "E": e, "s": k["s"], "k": body}
    return recv + " " + json.dumps({"stream": f"{sym}@kline_{IV}", "data": data},
                                   separators=(",", ":")) + "\n"
tmp = out + ".tmp"
with gzip.open(tmp, "wt", encoding="utf-8", newline="") as w:
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as r:
            for line in r:
                recv, _, rest = line.partition(" ")
                if not rest.startswith('{"stream":"%s@trade"' % sym):
                    w.write(line)
                    continue
                d = json.loads(rest)["data"]
                p, q, e = Decimal(d["p"]), Decimal(d["q"]), int(d["E"])
                start = int(d["T"]) // IVMS * IVMS
                if k is not None and start > k["t"]:
                    w.write(frame(recv, e, True))
                    k = None
                w.write(line)
                if k is None:
                    k = {"t": start, "s": d["s"], "f": d["t"], "L": d["t"], "o": p, "h": p,
                         "l": p, "c": p, "v": Decimal(0), "q": Decimal(0), "V": Decimal(0),
                         "Q": Decimal(0), "n": 0, "sent": None}
                if start < k["t"]:
                    continue  # a late trade of an already closed minute: not in any kline
                k["L"], k["c"], k["n"] = d["t"], p, k["n"] + 1
                k["h"], k["l"] = max(k["h"], p), min(k["l"], p)
                k["v"] += q
                k["q"] += p * q
                if not d["m"]:  # the buyer took liquidity: taker buy volume
                    k["V"] += q
                    k["Q"] += p * q
                if k["sent"] is None or e - k["sent"] >= STEP:
                    k["sent"] = e
                    w.write(frame(recv, e, False))
                else:
                    k["last"] = (recv, e)
                    continue
                k.pop("last", None)
    if k is not None and "last" in k:  # the open kline's latest state at the end of the capture
        w.write(frame(*k["last"], False))
os.replace(tmp, out)
