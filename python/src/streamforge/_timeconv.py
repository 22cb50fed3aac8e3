"""Time arguments and time columns.

The store keeps every market time as int64 microseconds since the epoch (UTC) and workflow and
telemetry times as float seconds. Callers pass whatever is convenient (ISO strings, datetimes,
pandas Timestamps); this module turns them into the store's units, and store columns into UTC
datetimes, in one place so that every reader applies the same rules.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Union

import numpy as np
import pandas as pd

TimeLike = Union[str, datetime, date, pd.Timestamp, np.datetime64, int]


def to_micros(value: TimeLike) -> int:
    """Microseconds since the epoch for a time argument.

    Strings and naive datetimes are read as UTC; an int is taken as microseconds already (the
    store's own unit), so values read from a raw column can be passed straight back.
    """
    if isinstance(value, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        raise ValueError(f"not a time: {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1000)  # .value is ns since the epoch at any resolution


def micros_to_index(values: np.ndarray, name: str) -> pd.DatetimeIndex:
    """A UTC DatetimeIndex from int64 microseconds."""
    return pd.DatetimeIndex(micros_to_datetime(values), name=name)


def micros_to_datetime(values: np.ndarray, zero_is_missing: bool = False) -> pd.DatetimeIndex:
    """UTC datetimes from int64 microseconds; with zero_is_missing, 0 (the store's "not known"
    for event and receive times of loaded history) becomes NaT."""
    as_dt = np.asarray(values, dtype=np.int64).view("datetime64[us]")
    if zero_is_missing:
        as_dt = np.where(values == 0, np.datetime64("NaT", "us"), as_dt)
    return pd.DatetimeIndex(as_dt).tz_localize("UTC")


def seconds_to_datetime(values: np.ndarray) -> pd.DatetimeIndex:
    """UTC datetimes from float seconds since the epoch, rounded to the microsecond."""
    micros = np.rint(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)
    return micros_to_datetime(micros)
