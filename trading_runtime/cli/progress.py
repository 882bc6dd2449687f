"""Progress: a tqdm bar on a terminal; in pods and pipes one log line every N items or T seconds.

Defaults (pods): a line every ``DEFAULT_EVERY_ITEMS`` items or ``DEFAULT_EVERY_SECONDS`` seconds,
whichever comes first, and always at the end; the environment variables
``TRADING_RUNTIME_PROGRESS_EVERY`` (items) and ``TRADING_RUNTIME_PROGRESS_SECONDS`` (seconds) or the
flags ``--progress-every`` / ``--progress-seconds`` change them. Each line carries done, total,
rate and the ids of the current log context (experiment, shard, last run).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from trading_runtime.cli.flags import positive_int, positive_seconds

DEFAULT_EVERY_ITEMS = 100  # runs: a few lines per shard of the default 50–1000 runs
DEFAULT_EVERY_SECONDS = 30.0  # seconds: a live pod shows life at least this often
EVERY_ITEMS_ENV = "TRADING_RUNTIME_PROGRESS_EVERY"
EVERY_SECONDS_ENV = "TRADING_RUNTIME_PROGRESS_SECONDS"


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress-every", type=positive_int, default=None, metavar="N",
                        help=f"without a terminal: a progress line every N runs (env {EVERY_ITEMS_ENV}; "
                             f"default {DEFAULT_EVERY_ITEMS})")
    parser.add_argument("--progress-seconds", type=positive_seconds, default=None, metavar="T",
                        help=f"without a terminal: a progress line at least every T seconds (env "
                             f"{EVERY_SECONDS_ENV}; default {DEFAULT_EVERY_SECONDS:g})")


def progress_settings(args: argparse.Namespace, default_items: int = DEFAULT_EVERY_ITEMS,
                      default_seconds: float = DEFAULT_EVERY_SECONDS) -> tuple[int, float]:
    """(every N items, every T seconds) from the flags, else the environment, else the defaults."""
    n: int | None = getattr(args, "progress_every", None)
    t: float | None = getattr(args, "progress_seconds", None)
    if n is None:
        n = int(os.environ.get(EVERY_ITEMS_ENV) or default_items)
    if t is None:
        t = float(os.environ.get(EVERY_SECONDS_ENV) or default_seconds)
    return max(1, n), max(0.0, t)


class PeriodicProgress:
    def __init__(self, log: logging.Logger, total: int, unit: str, extra: dict[str, Any] | None = None,
                 every_items: int = DEFAULT_EVERY_ITEMS, every_seconds: float = DEFAULT_EVERY_SECONDS,
                 initial: int = 0) -> None:
        self.log, self.total, self.unit, self.extra = log, total, unit, extra or {}
        self.every_items, self.every_seconds = every_items, every_seconds
        self.done = initial
        self._last_n = initial
        self._initial = initial
        self._last_t = time.monotonic()
        self._t0 = self._last_t

    def update(self, done: int, **fields: Any) -> None:
        self.done = done
        now = time.monotonic()
        if done >= self.total or done - self._last_n >= self.every_items or now - self._last_t >= self.every_seconds:
            rate = (done - self._initial) / max(now - self._t0, 1e-9)
            self.log.info("progress %d/%d %s (%.1f/s)", done, self.total, self.unit, rate,
                          extra={**self.extra, **fields, "done": done, "total": self.total, "unit": self.unit,
                                 "rate": round(rate, 3)})
            self._last_n, self._last_t = done, now

    def add(self, n: int, **fields: Any) -> None:
        self.update(self.done + n, **fields)

    def close(self) -> None:
        return None


class ProgressBar:
    """tqdm on a terminal (stderr is a TTY), PeriodicProgress log lines otherwise."""

    def __init__(self, log: logging.Logger, total: int, unit: str, extra: dict[str, Any] | None = None,
                 initial: int = 0, every_items: int = DEFAULT_EVERY_ITEMS,
                 every_seconds: float = DEFAULT_EVERY_SECONDS) -> None:
        self.done = initial
        self._tqdm: Any = None
        self._lines: PeriodicProgress | None = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self._tqdm = tqdm(total=total, initial=initial, unit=unit.rstrip("s") or unit, file=sys.stderr,
                              dynamic_ncols=True)
        else:
            self._lines = PeriodicProgress(log, total, unit, extra, every_items, every_seconds, initial)

    def update(self, done: int, **fields: Any) -> None:
        self.add(done - self.done, **fields)

    def add(self, n: int, **fields: Any) -> None:
        self.done += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif self._lines is not None:
            self._lines.update(self.done, **fields)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
