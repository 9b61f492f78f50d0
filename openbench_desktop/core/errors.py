"""Errors the core raises for a person to read.

Every error here carries a message written for the user (what went wrong and what to do)
and never contains a secret: callers must not interpolate API keys or auth headers.
"""

from __future__ import annotations


class OpenBenchError(Exception):
    """Base class: the message is shown to the user as-is."""


class ConfigError(OpenBenchError):
    """A run spec, CLI argument or setting is invalid."""


class DatasetError(OpenBenchError):
    """A dataset file or hub id cannot be loaded; names the file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = []
        if path:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SecretStoreError(OpenBenchError):
    """The keyring is unavailable or refused an operation."""


class StorageError(OpenBenchError):
    """The database cannot be opened, migrated or written."""
