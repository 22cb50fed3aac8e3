"""Store URLs in the forms the C++ side accepts (src/store/store.cc, src/runtime/store_options.cc).

Parsing is kept apart from opening so that a bad URL fails before any connection attempt, with a
message that lists the accepted forms and never echoes a password.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from .errors import StoreURLError

DEFAULT_STORE_URL = "sqlite:./data/streamforge.db"
ACCEPTED_FORMS = (
    "accepted forms: sqlite:PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE, postgresql://... "
    "(libpq query parameters such as ?options=-csearch_path%3DNAME are passed on)"
)
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
_ARANGO_SCHEMES = ("arango://", "arango+http://", "arango+https://")
_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store URL: which backend, and what it needs to connect."""

    kind: Literal["sqlite", "postgres"]
    target: str  # the SQLite file path, or the libpq connection URL as given
    url: str

    @property
    def redacted(self) -> str:
        """The URL with any password replaced, fit for messages and logs."""
        return redact(self.url)


def redact(url: str) -> str:
    """Replaces the password of a `scheme://user:password@host` URL with `***`."""
    return _PASSWORD.sub(r"\1***\3", url)


def default_store_url() -> str:
    """`SF_STORE`, else `POSTGRES_DSN`, else the platform's default SQLite file (as the C++ side)."""
    for name in ("SF_STORE", "POSTGRES_DSN"):
        value = os.environ.get(name, "")
        if value:
            return value
    return DEFAULT_STORE_URL


def parse_store_url(url: str) -> StoreLocation:
    """Parses a store URL; raises StoreURLError naming the accepted forms when it is not one."""
    if not isinstance(url, str) or not url.strip():
        raise StoreURLError(f"empty store URL ({ACCEPTED_FORMS})")
    url = url.strip()
    if url.startswith(_POSTGRES_SCHEMES):
        return StoreLocation("postgres", url, url)
    if url.startswith(_ARANGO_SCHEMES):
        raise StoreURLError(
            f"store URL '{redact(url)}' is an ArangoDB store, which the Python client does not "
            f"read; export to SQLite or PostgreSQL, or use the platform's history API ({ACCEPTED_FORMS})"
        )
    if url.startswith("sqlite:"):
        path = url[len("sqlite:") :]
        if not path:
            raise StoreURLError(f"store URL '{url}' names no path ({ACCEPTED_FORMS})")
        if path == ":memory:":
            raise StoreURLError(
                "store URL 'sqlite::memory:' names a private in-memory database that no other "
                "process can read; give the platform's file instead"
            )
        return StoreLocation("sqlite", path, url)
    raise StoreURLError(f"unsupported store URL '{redact(url)}' ({ACCEPTED_FORMS})")
