"""Local worker processes shared by the sweep and the search: how they start, run and stop.

fork on Linux: a worker inherits the parent's imported modules, loaded kernels and bars, so it
starts in milliseconds; spawn (re-import ≈1 s, arguments pickled) elsewhere. Ctrl-C reaches the
whole process group: workers ignore it and finish the shard they are writing (complete or absent,
never killed mid-write) while the parent stops handing out shards and waits for them.

A worker never outlives its parent: on Linux it asks the kernel for SIGKILL when the parent dies
(``prctl(PR_SET_PDEATHSIG)``), so a ``kill -9`` of ``sweep``/``optimize`` leaves no worker behind
(a shard being written stays absent: the store's writes are complete or absent).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from typing import Any, Protocol, TypeVar

from trading_runtime.planning import Plan
from trading_runtime.store import ArtifactStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class Progress(Protocol):
    """Where a runner reports finished runs (the CLI passes a progress bar)."""

    def add(self, n: int, **fields: Any) -> None: ...

    def close(self) -> None: ...


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# The pid of the process that made the pool (inherited by forked workers).
_POOL_PARENT: list[int] = []


def pool_context() -> BaseContext:
    _POOL_PARENT[:] = [os.getpid()]
    return get_context("fork" if sys.platform == "linux" else "spawn")


def setup_worker() -> None:
    """First thing in every worker: die with the parent, ignore Ctrl-C. (The CLI's allocator setting is
    inherited through fork; spawn is used only off Linux, where there is no glibc to tune.)"""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the loaded C library; find_library would run ldconfig
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable: a worker may outlive a killed parent")
        return
    if _POOL_PARENT and os.getppid() != _POOL_PARENT[0]:
        os._exit(1)  # the parent died before the request took effect


def pending_shards(store: ArtifactStore, plan: Plan) -> list[str]:
    """Shards fan-in would not accept (no verifying marker, a malformed result or one of another
    schema_version); resume skips the others."""
    from trading_runtime.fanin import shard_status  # fan-in's check, imported when the shards phase starts

    return [s.shard_id for s in plan.shards if shard_status(store, plan, s.shard_id).state != "completed"]


def drain(pool: ProcessPoolExecutor, futures: set[Future[T]], on_done: Callable[[T], None]) -> None:
    """Wait for every future, handing each result to ``on_done`` as it completes.

    Ctrl-C: pending shards are cancelled and the running ones finish writing before it propagates.
    """
    try:
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for f in done:
                on_done(f.result())
    except KeyboardInterrupt:
        running = sum(1 for f in futures if not f.cancel())
        log.warning("interrupted: letting %d running shard(s) finish writing (Ctrl-C again to abort)", running)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        for f in futures:
            f.cancel()
        raise
