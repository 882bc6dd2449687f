"""Progress for pods and pipes: one log line every N items or T seconds."""

from __future__ import annotations

import logging
import time
from typing import Any


class PeriodicProgress:
    def __init__(self, log: logging.Logger, total: int, unit: str, extra: dict[str, Any] | None = None,
                 every_items: int = 1000, every_seconds: float = 10.0) -> None:
        self.log, self.total, self.unit, self.extra = log, total, unit, extra or {}
        self.every_items, self.every_seconds = every_items, every_seconds
        self._last_n = 0
        self._last_t = time.monotonic()
        self._t0 = self._last_t

    def update(self, done: int) -> None:
        now = time.monotonic()
        if done >= self.total or done - self._last_n >= self.every_items or now - self._last_t >= self.every_seconds:
            rate = done / max(now - self._t0, 1e-9)
            self.log.info("progress %d/%d %s (%.1f/s)", done, self.total, self.unit, rate,
                          extra={**self.extra, "done": done, "total": self.total})
            self._last_n, self._last_t = done, now
