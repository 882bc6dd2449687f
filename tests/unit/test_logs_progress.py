"""Log context and progress lines (no subprocess: the JSON formatter and the periodic progress logic)."""

from __future__ import annotations

import json
import logging

from trading_runtime.cli.logs import ContextFilter, JsonFormatter, log_context
from trading_runtime.cli.progress import PeriodicProgress


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.addFilter(ContextFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def make_logger(name: str) -> tuple[logging.Logger, ListHandler]:
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = ListHandler()
    log.handlers = [handler]
    return log, handler


def test_log_context_fields_nest_and_explicit_extra_wins():
    log, h = make_logger("test.logs.context")
    with log_context(experiment="exp-1"):
        log.info("a")
        with log_context(shard="shard-00002", run=None):
            log.info("b", extra={"run": "run-x"})
        log.info("c", extra={"experiment": "other"})
    log.info("d")
    assert [(r["message"], r.get("experiment"), r.get("shard"), r.get("run")) for r in h.lines] == [
        ("a", "exp-1", None, None), ("b", "exp-1", "shard-00002", "run-x"), ("c", "other", None, None),
        ("d", None, None, None)]


def test_periodic_progress_every_n_items_and_at_the_end(monkeypatch):
    log, h = make_logger("test.logs.progress")
    clock = iter(float(t) for t in range(1000))
    monkeypatch.setattr("trading_runtime.cli.progress.time.monotonic", lambda: next(clock))
    p = PeriodicProgress(log, 10, "runs", {"shard": "s"}, every_items=4, every_seconds=1e9)
    for i in range(1, 11):
        p.update(i, run=f"r{i}")
    assert [(r["done"], r["run"], r["total"], r["shard"]) for r in h.lines] == [
        (4, "r4", 10, "s"), (8, "r8", 10, "s"), (10, "r10", 10, "s")]


def test_periodic_progress_every_t_seconds(monkeypatch):
    log, h = make_logger("test.logs.seconds")
    now = [0.0]
    monkeypatch.setattr("trading_runtime.cli.progress.time.monotonic", lambda: now[0])
    p = PeriodicProgress(log, 1000, "runs", every_items=10**9, every_seconds=30.0)
    for i, t in enumerate((10.0, 29.0, 31.0, 45.0, 62.0), start=1):
        now[0] = t
        p.update(i)
    assert [r["done"] for r in h.lines] == [3, 5]
