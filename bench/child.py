"""Subprocess entry points of the benchmark (run by engine.py; each prints one JSON line).

    child.py backtest {engine,floor} BARS.npz REPEATS      one backtest: warm-up, then timed repeats
    child.py sweep {engine,floor} BARS.npz REPEATS         the sweep: warm-up, timed repeats, peak RSS
    child.py cold {engine,floor} BARS.npz                  interpreter start -> first finished backtest

Every measure runs in a fresh interpreter so that it does not depend on what the parent did before
(the heap's state decides whether big arrays are recycled or page-faulted in anew, see README).
Imports are deferred so that a cold start pays only for what it uses.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def peak_rss_mb() -> dict[str, float]:
    """This process's peak RSS in MB: ``VmHWM`` (Linux), and ``ru_maxrss`` for comparison.

    On Linux ``ru_maxrss`` survives exec: a child spawned by a bigger parent reports the parent's
    RSS at the spawn when its own peak is lower. VmHWM belongs to the process's own address space,
    so it is the figure used when available.
    """
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    try:
        with open("/proc/self/status") as fh:
            hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        hwm = ru
    return {"peak_rss_mb": hwm, "ru_maxrss_mb": ru}


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Wall seconds of each of ``repeats`` calls, and the minor page faults per call."""
    f0 = minflt()
    times = []
    cpu = []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"times_s": times, "cpu_s": cpu, "faults_per_call": (minflt() - f0) / repeats}


def _backtest(which: str, path: str, repeats: int) -> dict[str, Any]:
    from workloads import SINGLE, engine_backtest, floor_backtest, load_bars

    bars = load_bars(path)
    run = engine_backtest if which == "engine" else floor_backtest
    run(bars, *SINGLE)  # warm-up: loads the kernels from numba's cache
    return timed(lambda: run(bars, *SINGLE), repeats)


def _sweep(which: str, path: str, repeats: int) -> dict[str, Any]:
    from workloads import SINGLE, engine_backtest, engine_sweep, floor_backtest, floor_sweep, grid, load_bars

    bars = load_bars(path)
    combos, _ = grid()
    (engine_backtest if which == "engine" else floor_backtest)(bars, *SINGLE)  # warm-up
    sweep = engine_sweep if which == "engine" else floor_sweep
    return {"runs": len(combos), **timed(lambda: sweep(bars, combos), repeats), **peak_rss_mb()}


def _cold(which: str, path: str) -> dict[str, Any]:
    t0 = time.monotonic_ns()
    import numpy as np

    if which == "engine":
        from trading_framework import Bars, ExecutionSpec, run_backtest
        from trading_framework.bars import COLUMNS
        from trading_runtime.strategies.sma_cross import SmaCross

        t1 = time.monotonic_ns()
        with np.load(path) as z:
            bars = Bars(*(z[c] for c in COLUMNS))
        t2 = time.monotonic_ns()
        metrics = run_backtest(bars, SmaCross(SmaCross.Params(fast=10, slow=50)), ExecutionSpec(), 60).metrics
    else:
        from floor import floor_metrics, floor_sma_cross

        t1 = time.monotonic_ns()
        with np.load(path) as z:
            open_, close, ts = z["open"], z["close"], z["ts"]
        t2 = time.monotonic_ns()
        raw = floor_sma_cross(open_, close, 10, 50, 100_000.0, 5e-4, 0.0)
        metrics = floor_metrics(raw, len(close), 100_000.0, 365 * 86400 / 60, (int(ts[-1]) - int(ts[0])) / 1e9)
    t3 = time.monotonic_ns()
    return {"done_ns": t3, "import_s": (t1 - t0) / 1e9, "load_s": (t2 - t1) / 1e9,
            "first_backtest_s": (t3 - t2) / 1e9, "final_equity": metrics["final_equity"]}


def runtime_process_setup(which: str) -> None:
    """The engine runs as every trading-runtime process does: with the runtime's allocator setting
    (trading_runtime.cli.allocator), unless BENCH_GLIBC_DEFAULTS=1 asks for glibc's defaults."""
    if which == "engine" and os.environ.get("BENCH_GLIBC_DEFAULTS") != "1":
        from trading_runtime.cli.allocator import tune_allocator

        tune_allocator()


def main(argv: list[str]) -> None:
    mode, which, path, *rest = argv
    if which not in ("engine", "floor"):
        raise SystemExit(f"unknown implementation {which!r}")
    runtime_process_setup(which)
    if mode == "backtest":
        out = _backtest(which, path, int(rest[0]))
    elif mode == "sweep":
        out = _sweep(which, path, int(rest[0]))
    elif mode == "cold":
        out = _cold(which, path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
