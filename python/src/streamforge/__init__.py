"""StreamForge for analysts: the platform's store as pandas DataFrames, and its workflow API.

    import streamforge as sf
    with sf.connect() as store:                       # $SF_STORE
        candles = store.candles("BTCUSDT", "5m", "2022-03-01", "2022-04-01")

See docs/python.md in the repository for the API, exact-decimal mode, chunked reads and store URLs.
"""

from __future__ import annotations

from .api import ApiClient
from .errors import (
    ApiError,
    StoreConnectionError,
    StoreSchemaError,
    StoreURLError,
    StreamForgeError,
    WorkflowFailed,
)
from .store import DEFAULT_CHUNK_ROWS, Graph, Store, book_levels, connect

__version__ = "0.1.0"
__all__ = [
    "ApiClient",
    "ApiError",
    "DEFAULT_CHUNK_ROWS",
    "Graph",
    "Store",
    "StoreConnectionError",
    "StoreSchemaError",
    "StoreURLError",
    "StreamForgeError",
    "WorkflowFailed",
    "book_levels",
    "connect",
]
