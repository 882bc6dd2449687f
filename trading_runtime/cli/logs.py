"""Logging setup for the CLI (the only place that configures handlers): text or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from trading_runtime.redaction import redact

# Fields carried from ``extra=…`` or from log_context() into JSON lines (ids first, then progress).
CONTEXT_FIELDS = ("experiment", "shard", "run", "generation", "trial", "step", "config_sha256",
                  "done", "total", "unit", "rate", "seconds")

_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("trading_runtime_log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every log record emitted inside carries these fields (e.g. experiment and shard ids)."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Adds the fields of the current log_context() to each record (explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={"experiment": ...}`` fields are carried through."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, sort_keys=True, default=str))


class RedactingFormatter(logging.Formatter):
    """The text format, with URL credentials masked (as in JSON lines)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbosity: int, log_format: str | None) -> None:
    """``log_format`` None means text on a terminal, JSON lines otherwise (pods, CI)."""
    fmt = log_format or ("text" if sys.stderr.isatty() else "json")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    root.setLevel(level)
    for noisy in ("numba", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
