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

Large blocks mapped while a sweep's data are read (``large_blocks_mapped``). ``sweep`` loads its kernels on the
main thread while its data are read on a thread (``execution/kernel_warmup.py``): numba's allocations then land in
the heap between the read's, and the read's temporaries (Parquet columns, numpy copies, the checks' arrays) leave
holes there that the shards do not fill: the 1M-bar sweep's peak grew by 6–13 MB, with 10× the runs by ~13 MB
(measured with ``/usr/bin/time``: 320–322 → 326–333 MB, 324–326 → 339 MB). For that phase blocks of 1 MiB and more
are mapped on their own (returned to the OS when freed), then the 32 MiB threshold is back for the shards: 322 MB,
326 MB.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from typing import Any

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20
READ_MMAP_THRESHOLD_BYTES = 2**20  # while a step's data are read beside its start-up (large_blocks_mapped)
_state = {"tuned": False, "mapped": False}


def tune_allocator() -> bool:
    """Apply the thresholds when running on glibc; True when applied."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    if "MALLOC_ARENA_MAX" not in os.environ and mallopt(M_ARENA_MAX, 1) != 1:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    _state["tuned"] = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok)
    return _state["tuned"]


def large_blocks_mapped() -> contextlib.AbstractContextManager[None]:
    """For the ``with`` body (a step's data read beside its start-up): blocks of ``READ_MMAP_THRESHOLD_BYTES`` and
    more are mapped on their own, then ``tune_allocator``'s threshold is back (see the module's docstring).
    Nothing when ``tune_allocator`` did not apply (not glibc, or the environment's settings win)."""
    return _mapped() if _state["tuned"] else contextlib.nullcontext()


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    _set_mmap_threshold(READ_MMAP_THRESHOLD_BYTES)
    _state["mapped"] = True
    try:
        yield
    finally:
        _state["mapped"] = False
        _set_mmap_threshold(MMAP_THRESHOLD_BYTES)


def large_blocks_are_mapped() -> bool:
    """Whether a ``large_blocks_mapped`` body is running."""
    return _state["mapped"]


def _set_mmap_threshold(nbytes: int) -> None:
    mallopt = _mallopt()
    assert mallopt is not None  # tune_allocator found it
    mallopt(M_MMAP_THRESHOLD, nbytes)


def _mallopt() -> Any:
    """glibc's ``mallopt(int, int) -> int``, or None (not glibc: musl, macOS; or no C library to open)."""
    try:
        # The C library this process already runs on (dlopen(NULL)): no ``ctypes.util.find_library``, which
        # runs ``ldconfig -p`` in a subprocess (tens of ms of every command's start-up).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
