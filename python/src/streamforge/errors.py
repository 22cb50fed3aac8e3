"""Exceptions of the streamforge package.

One base class, so a notebook can catch everything the package raises in one place, and one
subclass per thing a caller can act on differently (fix the URL, start the server, read the API's
answer).
"""

from __future__ import annotations


class StreamForgeError(Exception):
    """Base class of every error this package raises on purpose."""


class StoreURLError(StreamForgeError, ValueError):
    """The store URL is malformed or names a store this package cannot read."""


class StoreConnectionError(StreamForgeError):
    """The store could not be opened (missing file, server down, bad credentials)."""


class StoreSchemaError(StreamForgeError):
    """The store opened but does not hold StreamForge's tables (wrong file or database)."""


class ApiError(StreamForgeError):
    """The platform's REST API answered with an error status, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class WorkflowFailed(StreamForgeError):
    """A workflow waited on ended in `failed` or `interrupted` instead of `finished`."""

    def __init__(self, message: str, workflow: dict[str, object]) -> None:
        super().__init__(message)
        self.workflow = workflow
