"""Keep freed result arrays in the process heap (glibc) instead of returning them to the OS.

A backtest allocates a few arrays the size of the bars (target, equity, position) and frees them
when the next run starts. glibc hands such large blocks back to the OS (mmap threshold and heap
trimming), so every run page-faults fresh memory: measured here, ~9,000 faults (~17 ms) per 1M-bar
backtest, doubling its time. Raising the mmap threshold to 32 MiB and the trim threshold to 256 MiB
makes the allocator reuse those pages. The cost: the process keeps its peak heap until it exits.
Environment variables MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_, when set, win.

One arena for every thread (``M_ARENA_MAX`` 1; ``MALLOC_ARENA_MAX``, when set, wins). A command reads its
data on a thread beside its imports (``execution/read_ahead.py``); glibc gives such a thread an arena of its
own, and with the heap kept (above) what the thread allocated and freed there stays resident beside the
main arena, which the shards then grow anew: 22 MB more peak for a 1M-bar sweep (313 → 335 MB, measured
with ``bench/command.py``). The process's other threads (the data's sha256, finalize's writes) allocate
little, so sharing one arena's lock costs nothing measurable.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20


def tune_allocator() -> bool:
    """Apply the thresholds when running on glibc; True when applied."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        # The C library this process already runs on (dlopen(NULL)): no ``ctypes.util.find_library``, which
        # runs ``ldconfig -p`` in a subprocess (tens of ms of every command's start-up).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS), or no C library to open
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if "MALLOC_ARENA_MAX" not in os.environ and mallopt(M_ARENA_MAX, 1) != 1:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok)
