"""Raw column chunks -> DataFrame columns.

Chunks are converted one at a time and joined column by column at the end, releasing each
column's chunks as soon as it is joined, so a read never holds the whole result twice (rows as
Python objects and the frame) the way fetchall-then-DataFrame does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ._backends import Chunk
from ._schema import Column, Kind
from ._timeconv import micros_to_datetime, seconds_to_datetime

# pandas 3 gives str columns their own dtype, pandas 2 keeps object; "str" means that in both.
TEXT_DTYPE = "str"


def finish_chunk(columns: Sequence[Column], raw: Chunk, exact: bool) -> Chunk:
    """The per-chunk part of the conversion: the costly per-value work (parsing decimal text),
    done while the chunk's raw strings are still around and then dropped."""
    out: Chunk = {}
    for c in columns:
        values = raw[c.name]
        if c.kind is Kind.DECIMAL:
            values = _decimals(values, exact)
        elif c.kind is Kind.BOOL:
            values = values.astype(np.bool_)
        out[c.name] = values
    return out


def _decimals(values: np.ndarray, exact: bool) -> np.ndarray:
    if values.dtype == np.float64:
        return values  # the backend converted already (correctly rounded)
    if exact:
        return np.array([Decimal(v) for v in values], dtype=object)
    return np.array(values, dtype=np.float64)  # Python's float() per text: correctly rounded


def to_series_values(column: Column, values: np.ndarray, exact: bool) -> Any:
    """The final form of one joined column."""
    kind = column.kind
    if kind is Kind.TIME_US:
        return micros_to_datetime(values)
    if kind is Kind.TIME_US_OPT:
        return micros_to_datetime(values, zero_is_missing=True)
    if kind is Kind.TIME_S:
        return seconds_to_datetime(values)
    if kind is Kind.BOOL_OPT:
        flags = np.where(np.isnan(values), None, values == 1)
        return pd.Series(flags, dtype="boolean", copy=False).array
    if kind in (Kind.TEXT, Kind.JSON, Kind.FLOATS):
        return pd.Series(values, dtype=TEXT_DTYPE, copy=False).array
    if kind is Kind.DECIMAL and not exact:
        return values.astype(np.float64, copy=False)
    if kind is Kind.INT:
        return values.astype(np.int64, copy=False)
    if kind in (Kind.REAL, Kind.REAL_OPT):
        return values.astype(np.float64, copy=False)
    if kind is Kind.REAL32:
        return values.astype(np.float32)  # the double read back is a float's exact value
    return values


def _empty(column: Column, exact: bool) -> np.ndarray:
    kind = column.kind
    if kind in (Kind.INT, Kind.TIME_US, Kind.TIME_US_OPT):
        return np.empty(0, dtype=np.int64)
    if kind is Kind.BOOL:
        return np.empty(0, dtype=np.bool_)
    if kind in (Kind.REAL, Kind.REAL_OPT, Kind.REAL32, Kind.TIME_S, Kind.BOOL_OPT):
        return np.empty(0, dtype=np.float64)
    if kind is Kind.DECIMAL and not exact:
        return np.empty(0, dtype=np.float64)
    return np.empty(0, dtype=object)


def assemble(columns: Sequence[Column], chunks: Iterable[Chunk], exact: bool,
             index: str | None) -> pd.DataFrame:
    """Joins finished chunks into one frame, `index` (a column name) becoming its index."""
    parts: dict[str, list[np.ndarray]] = {c.name: [] for c in columns}
    for chunk in chunks:
        for name, values in chunk.items():
            parts[name].append(values)
    data: dict[str, Any] = {}
    for c in columns:
        pieces = parts.pop(c.name)
        joined = (pieces[0] if len(pieces) == 1 else
                  np.concatenate(pieces) if pieces else _empty(c, exact))
        del pieces
        data[c.name] = to_series_values(c, joined, exact)
    frame_index = None
    if index is not None:
        frame_index = pd.DatetimeIndex(data.pop(index), name=index)
    return pd.DataFrame(data, index=frame_index, copy=False)


def frames(columns: Sequence[Column], chunks: Iterable[Chunk], exact: bool,
           index: str | None) -> Iterator[pd.DataFrame]:
    """One frame per chunk, for callers that process a large read piece by piece (none at all
    when nothing matches)."""
    for chunk in chunks:
        yield assemble(columns, [chunk], exact, index)
