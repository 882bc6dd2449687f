"""Local worker processes shared by ``sweep`` and ``optimize``: how they start and stop.

fork on Linux: a worker inherits the parent's imported modules, loaded kernels and bars, so it
starts in milliseconds; spawn (re-import ≈1 s, arguments pickled) elsewhere. Ctrl-C reaches the
whole process group: workers ignore it and finish the shard they are writing (complete or absent,
never killed mid-write) while the parent stops handing out shards and waits for them.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing import get_context
from multiprocessing.context import BaseContext

from trading_runtime.cli.allocator import tune_allocator


def pool_context() -> BaseContext:
    return get_context("fork" if sys.platform == "linux" else "spawn")


def setup_worker() -> None:
    """First thing in every worker: ignore Ctrl-C, keep freed arrays in the heap."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_allocator()
