"""Structured logs: JSON lines, rotated, in the log folder (platformdirs or OPENBENCH_HOME).

Each line has ``ts``, ``level``, ``logger``, ``msg`` and, when the code logging it passed
them through ``extra=``, ``run_id``, ``sample_index`` and ``attempt``. Secrets never reach
a message in the first place (providers scrub server text); :class:`_ScrubSecrets` is the
second line of defence for the values of keys the process has loaded.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["LOG_FILE_NAME", "JsonLinesFormatter", "register_secret", "setup_logging"]

LOG_FILE_NAME = "openbench.jsonl"
_CONTEXT_FIELDS = ("run_id", "sample_index", "attempt", "category")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked if it ever appears in a log line."""
    if value and len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def _scrub(text: str) -> str:
    with _secrets_lock:
        known = tuple(_secrets)
    for value in known:
        if value in text:
            text = text.replace(value, "***")
    return text


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": _scrub(record.getMessage()),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(
    log_dir: Path, *, level: int = logging.INFO, max_bytes: int = 5_000_000, backups: int = 5
) -> Path:
    """Send the app's logs to a rotating JSON-lines file; returns its path. Idempotent."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE_NAME
    root = logging.getLogger("openbench_desktop")
    for old in list(root.handlers):
        if getattr(old, "_openbench_log", False):
            if getattr(old, "baseFilename", None) == str(path.resolve()):
                return path
            # One log folder per process: a new home (tests, --home) replaces the old one.
            root.removeHandler(old)
            old.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
    )
    handler._openbench_log = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonLinesFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return path
