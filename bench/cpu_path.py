"""``trading-runtime sweep`` with the CPU critical path of its run printed (issue 13, eighth pass): what its
wall time would be on idle cores, from CPU times, for a VM whose other tenants leave no second core free.

    .venv/bin/python bench/cpu_path.py sweep --config CONFIG --store STORE --workers 2 -q

Prints one ``CPATH`` line on stderr. One worker: the process's CPU time (every thread). More workers: the
parent's CPU up to the fork (imports, data, plan, kernels), plus the busier worker's shard CPU (each shard
timed in the worker), plus the parent's tail thread CPU (fan-in, its share of the curves, the report's other
sections, writing the report), plus the waits for the workers' tail tasks: the slower curves task (with the
moments of the best runs it derived), and the part of the equity section not covered by the parent's own work
meanwhile.
The command itself is unchanged (the wrappers keep the wrapped functions' names, so the pool still pickles
them by reference).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from trading_runtime.cli.main import main as cli_main
from trading_runtime.orchestration import sweep

SEEN: dict[str, float] = {}
READ, WRITE = os.pipe()  # the workers report each task's CPU here (inherited through fork)


def _in_worker(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        c0 = time.process_time()
        out = fn(*args)
        os.write(WRITE, f"{os.getpid()} {name} {time.process_time() - c0:.4f}\n".encode())
        return out
    timed.__module__, timed.__qualname__, timed.__name__ = sweep.__name__, name, name
    return timed


def _mark(fn: Callable[..., Any], key: str, after: bool = True, clock: Callable[[], float] = time.process_time
          ) -> Callable[..., Any]:
    def marked(*args: Any, **kwargs: Any) -> Any:
        if not after:
            SEEN[key] = clock()
        out = fn(*args, **kwargs)
        if after:
            SEEN[key] = clock()
        return out
    return marked


def main() -> int:
    for name in ("_work", "_derive_shared", "_shared_moments", "_shared_equity_section"):
        if hasattr(sweep, name):
            setattr(sweep, name, _in_worker(getattr(sweep, name), name))
    sweep.warm_kernels = _mark(sweep.warm_kernels, "fork")
    tail_imports = "import_tail" if hasattr(sweep, "import_tail") else "_import_tail"  # (its earlier name)
    if hasattr(sweep, tail_imports):
        setattr(sweep, tail_imports, _mark(getattr(sweep, tail_imports), "fork"))
        sweep._PoolTail.equity_section = _mark(sweep._PoolTail.equity_section, "submit", False, time.thread_time)
        from trading_runtime import report
        report.render_report = _mark(report.render_report, "rendered", True, time.thread_time)
    real_execute = sweep.execute

    def execute(*args: Any, **kwargs: Any) -> Any:
        out = real_execute(*args, **kwargs)
        SEEN["tail_start"] = time.thread_time()
        return out
    sweep.execute = execute
    code = cli_main(sys.argv[1:])
    tail = time.thread_time() - SEEN["tail_start"]
    os.close(WRITE)
    lines = b""
    while chunk := os.read(READ, 65536):
        lines += chunk
    shards: dict[str, float] = {}
    tasks: dict[str, list[float]] = {}
    for line in lines.decode().splitlines():
        pid, name, cpu = line.split()
        if name == "_work":
            shards[pid] = shards.get(pid, 0.0) + float(cpu)
        else:
            tasks.setdefault(name, []).append(float(cpu))
    if "fork" not in SEEN:
        print(f"CPATH {time.process_time():.3f} s: one process (its CPU)", file=sys.stderr)
        return code
    derive = max(tasks.get("_derive_shared", [0.0]))  # with the moments of its best runs (thirteenth pass)
    side = max(tasks.get("_shared_equity_section", [0.0]))
    covered = SEEN["rendered"] - SEEN["submit"] if "submit" in SEEN else 0.0
    total = SEEN["fork"] + max(shards.values(), default=0.0) + tail + derive + max(0.0, side - covered)
    print(f"CPATH {total:.3f} s: to the fork {SEEN['fork']:.3f}, shards {max(shards.values(), default=0.0):.3f} "
          f"(per worker {' '.join(f'{v:.3f}' for v in shards.values())}), tail thread {tail:.3f}, curves task "
          f"{derive:.3f}, equity section {side:.3f}, moments (in a curves task) "
          f"{max(tasks.get('_shared_moments', [0.0])):.3f}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
