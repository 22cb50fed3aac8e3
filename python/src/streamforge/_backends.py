"""The two store backends: SQLite (the embedded platform's file) and PostgreSQL.

Both answer one question, "run this SELECT and hand me its rows a chunk at a time, column by
column, as numpy arrays", so the frame building in store.py is shared. Each backend picks its
fastest honest path: SQLite rows through the sqlite3 module's cursor, PostgreSQL rows through
`COPY (SELECT ...) TO STDOUT` parsed by pandas' C CSV reader, which avoids building a Python
object per value (psycopg's row path would make a decimal.Decimal per NUMERIC).
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._schema import Column, Kind
from ._url import StoreLocation
from .errors import StoreConnectionError, StoreSchemaError

Chunk = dict[str, np.ndarray]
Param = str | int | float


class Backend(Protocol):
    """What store.py needs from a database."""

    kind: str

    def select(self, columns: Sequence[Column], exact: bool) -> str:
        """The SELECT list for these columns, cast as chunks() expects them."""
        ...

    def chunks(self, sql: str, params: Sequence[Param], columns: Sequence[Column],
               exact: bool, chunk_rows: int) -> Iterator[Chunk]:
        """Runs `sql` (placeholders `?`) and yields its rows as raw column arrays (see _raw)."""
        ...

    def table_exists(self, name: str) -> bool:
        ...

    def close(self) -> None:
        ...


# What each kind looks like in a raw chunk, on both backends: TEXT/JSON/FLOATS and DECIMAL in exact
# mode -> object arrays of str; DECIMAL in float mode -> float64, the nearest double to the text;
# INT/TIME_US*/BOOL -> int64;
# BOOL_OPT/REAL*/TIME_S -> float64 with NaN for NULL.
_INT_KINDS = {Kind.INT, Kind.TIME_US, Kind.TIME_US_OPT, Kind.BOOL}
_FLOAT_KINDS = {Kind.BOOL_OPT, Kind.REAL, Kind.REAL_OPT, Kind.REAL32, Kind.TIME_S}


class SqliteBackend:
    """A read-only connection to the platform's SQLite file."""

    kind = "sqlite"

    def __init__(self, location: StoreLocation) -> None:
        path = Path(location.target)
        if not path.is_file():
            raise StoreConnectionError(
                f"no StreamForge store at '{path}' (store URL '{location.url}'): the file does "
                "not exist; the platform creates it on first start (streamforge run --store ...)")
        uri = path.resolve().as_uri() + "?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreConnectionError(f"cannot open '{path}': {e}") from e
        self._db.execute("PRAGMA busy_timeout = 5000")

    def select(self, columns: Sequence[Column], exact: bool) -> str:
        return ", ".join(c.name for c in columns)

    def chunks(self, sql: str, params: Sequence[Param], columns: Sequence[Column],
               exact: bool, chunk_rows: int) -> Iterator[Chunk]:
        cursor = self._db.execute(sql, tuple(params))
        try:
            while rows := cursor.fetchmany(chunk_rows):
                values = list(zip(*rows))
                del rows
                yield {c.name: _sqlite_column(c.kind, v, exact) for c, v in zip(columns, values)}
        finally:
            cursor.close()

    def table_exists(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    def close(self) -> None:
        self._db.close()


def _sqlite_column(kind: Kind, values: tuple[Any, ...], exact: bool) -> np.ndarray:
    if kind is Kind.DECIMAL and not exact:
        # Python's float() per text, straight from the row values: correctly rounded (SQLite's
        # own CAST AS REAL is not, always).
        return np.array(values, dtype=np.float64)
    if kind in _INT_KINDS:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    if kind in _FLOAT_KINDS:
        return np.array(values, dtype=np.float64)  # None -> NaN
    return np.array(values, dtype=object)


# Correctly rounded float parsing: pandas 3's default, an option before (deprecated since).
_ROUND_TRIP: dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"})


class PostgresBackend:
    """A psycopg connection; the URL goes to libpq as given (search_path options included)."""

    kind = "postgres"

    def __init__(self, location: StoreLocation) -> None:
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise StoreConnectionError(
                "PostgreSQL stores need psycopg 3: pip install 'psycopg[binary]' "
                "(or ./python[postgres])") from e
        self._location = location
        try:
            self._conn = psycopg.connect(location.target, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreConnectionError(
                f"cannot connect to PostgreSQL store '{location.redacted}': "
                f"{_scrub(str(e), location.url)}") from e

    def select(self, columns: Sequence[Column], exact: bool) -> str:
        return ", ".join(_pg_expression(c, exact) for c in columns)

    def chunks(self, sql: str, params: Sequence[Param], columns: Sequence[Column],
               exact: bool, chunk_rows: int) -> Iterator[Chunk]:
        names = [c.name for c in columns]
        dtypes: dict[str, Any] = {}
        na_values: dict[str, list[str]] = {}
        for c, expr in zip(columns, (_pg_expression(c, exact) for c in columns)):
            if c.kind in _INT_KINDS:
                dtypes[c.name] = np.int64
            elif c.kind in _FLOAT_KINDS or expr.endswith("::float8"):
                dtypes[c.name] = np.float64
                na_values[c.name] = [""]
            else:
                dtypes[c.name] = object
        copy_sql = "COPY (" + sql.replace("?", "%s") + ") TO STDOUT (FORMAT csv)"
        with self._conn.cursor() as cursor, cursor.copy(copy_sql, tuple(params)) as copy:
            stream = _CopyStream(iter(copy))
            try:
                reader = pd.read_csv(
                    io.BufferedReader(stream, buffer_size=1 << 20), header=None, names=names,
                    dtype=dtypes, keep_default_na=False, na_values=na_values,
                    chunksize=chunk_rows, engine="c", **_ROUND_TRIP)
            except pd.errors.EmptyDataError:
                return
            with reader:
                for frame in reader:
                    if frame.empty:
                        continue
                    yield {name: frame[name].to_numpy() for name in names}
                    del frame

    def table_exists(self, name: str) -> bool:
        with self._conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
            row = cursor.fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._conn.close()


def _pg_expression(column: Column, exact: bool) -> str:
    """How a column is selected so that its CSV text parses into the raw form of its kind."""
    name = column.name
    kind = column.kind
    if kind is Kind.DECIMAL:
        # NUMERIC keeps the scale it was written with, so ::text is the written text; ::float8 is
        # PostgreSQL's correctly rounded conversion, printed in shortest round-trip form.
        return f"{name}::text" if exact else f"{name}::float8"
    if kind in (Kind.BOOL, Kind.BOOL_OPT):
        return f"{name}::int"
    if kind is Kind.JSON:
        return f"{name}::text"
    if kind is Kind.FLOATS:
        return f"array_to_json({name})::text"  # '[0.5,-1.2]', the SQLite column's format
    return f'"{name}"' if name in ("interval", "timestamp") else name


class _CopyStream(io.RawIOBase):
    """A readable stream over psycopg's COPY blocks, so pandas parses while rows arrive and the
    whole result is never held as one bytes object."""

    def __init__(self, blocks: Iterator[Any]) -> None:
        self._blocks = blocks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # libpq hands COPY data over a row at a time: fill the whole buffer from as many rows as
        # fit, so the parser sees large reads.
        size, filled = len(buffer), 0
        while filled < size:
            if not self._pending:
                block = next(self._blocks, None)
                if block is None:
                    break
                self._pending = memoryview(block)
            n = min(size - filled, len(self._pending))
            buffer[filled:filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled


def _scrub(message: str, url: str) -> str:
    """Removes the URL's password from a driver message, should the driver have echoed it."""
    from urllib.parse import unquote, urlsplit

    password = urlsplit(url).password
    if password:
        for form in {password, unquote(password)}:
            message = message.replace(form, "***")
    return message


def open_backend(location: StoreLocation) -> Backend:
    """Connects and checks that the database holds StreamForge's tables."""
    backend: Backend = (SqliteBackend(location) if location.kind == "sqlite"
                        else PostgresBackend(location))
    if not backend.table_exists("schema_migrations"):
        backend.close()
        raise StoreSchemaError(
            f"'{location.redacted}' holds no StreamForge tables (no schema_migrations); is it the "
            "platform's store? The platform creates them on first start")
    return backend
