"""The Scenario-3 notebook's headline numbers, recomputed independently.

The notebook reads candles that went source JSON -> Binance CSV -> exchange-sim -> platform ->
store -> the streamforge package -> pandas. This test takes the source rows themselves
(../shared/data/klines_5m_2022_freqtrade, the file the headline names) and recomputes, with numpy
only, the hourly realised volatility and volume, their correlations and the log-log regression
slope; they must agree to 1e-9. Run after the notebook (ctest notebooks.Headline; by hand
`bash scripts/run-notebooks.sh` first), reading SF_NOTEBOOK_OUT/volume_vs_volatility.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

TOLERANCE = 1e-9
HOUR_MS = 3_600_000
CANDLES_PER_HOUR = 12


@pytest.fixture(scope="module")
def headline() -> dict:
    out = Path(os.environ.get("SF_NOTEBOOK_OUT", Path(__file__).parents[2] / "build/notebooks"))
    path = out / "volume_vs_volatility.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: execute the notebook first (scripts/run-notebooks.sh)",
                    pytrace=False)
    numbers: dict = json.loads(path.read_text())
    if numbers["online"]:
        pytest.skip("the notebook ran on live Binance data; the check needs the offline source")
    return numbers


def iso_ms(text: str) -> int:
    return int(np.datetime64(text.replace("+00:00", ""), "ms").astype(np.int64))


def source_hours(headline: dict) -> tuple[np.ndarray, np.ndarray]:
    """Hourly (volume, realised volatility) from the source rows, for the headline's month."""
    rows = np.array(json.loads(Path(headline["source"]).read_text()), dtype=np.float64)
    t = rows[:, 0].astype(np.int64)
    keep = (t >= iso_ms(headline["start"])) & (t < iso_ms(headline["end"]))
    t, close, volume = t[keep], rows[keep, 4], rows[keep, 5]
    order = np.argsort(t)
    t, close, volume = t[order], close[order], volume[order]
    # the return of candle i is ln(close_i / close_i-1): the first candle of the range has none
    returns = np.log(close[1:] / close[:-1])
    hour = (t[1:] - t[0]) // HOUR_MS
    n_hours = int(hour.max()) + 1
    count = np.bincount(hour, minlength=n_hours)
    rv = np.sqrt(np.bincount(hour, weights=returns * returns, minlength=n_hours))
    vol = np.bincount(hour, weights=volume[1:], minlength=n_hours)
    full = count == CANDLES_PER_HOUR
    return vol[full], rv[full]


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    average = (starts + ends + 1) / 2.0  # mean of the 1-based positions start+1..end
    out = np.empty(len(values))
    out[order] = np.repeat(average, ends - starts)
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy)))


def test_hour_count(headline: dict) -> None:
    volume, _ = source_hours(headline)
    assert headline["n_hours"] == len(volume) == 743


def test_correlations_agree(headline: dict) -> None:
    volume, rv = source_hours(headline)
    assert pearson(volume, rv) == pytest.approx(headline["pearson"], abs=TOLERANCE)
    assert pearson(np.log(volume), np.log(rv)) == pytest.approx(headline["pearson_log"],
                                                                abs=TOLERANCE)
    assert pearson(ranks(volume), ranks(rv)) == pytest.approx(headline["spearman"],
                                                              abs=TOLERANCE)


def test_regression_slope_agrees(headline: dict) -> None:
    volume, rv = source_hours(headline)
    x, y = np.log(volume), np.log(rv)
    dx = x - x.mean()
    slope = float((dx @ (y - y.mean())) / (dx @ dx))
    intercept = float(y.mean() - slope * x.mean())
    assert slope == pytest.approx(headline["slope"], abs=TOLERANCE)
    assert intercept == pytest.approx(headline["intercept"], abs=TOLERANCE)


def test_ranks_handle_ties() -> None:
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
