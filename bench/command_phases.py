"""``trading-runtime`` with the sweep's steps timed (run by command.py): prints
``PHASE name seconds VmHWM_MB own_peak_MB cpu_seconds`` lines on stderr for imports, start, data, plan, shards,
fan-in, curves (finalize re-deriving the curves that are read; not counted in fan-in) and report (with more
than one worker: what is left of the sweep's tail after fan-in and curves, finalize's last writes on a thread
included).
``VmHWM`` is the process's peak so far; ``own_peak`` the peak resident set during the phase alone
(``VmHWM`` is reset before it through ``/proc/self/clear_refs``); ``cpu_seconds`` the process's CPU time
in the phase (with workers, the parent's only). The command itself is unchanged."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

T0 = time.perf_counter()

from on_import import start_up_pause, wrap_on_import  # noqa: E402  (bench/, the script's own folder)


def hwm_mb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) // 1024


_PEAK = [0]  # the process's peak before the last reset


def reset_hwm() -> None:
    """Keep the peak so far, then let VmHWM start again from the current resident set."""
    _PEAK[0] = max(_PEAK[0], hwm_mb())
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # not Linux, or not allowed: own_peak is then the peak so far


_OPEN: list[list[float]] = []  # phases in progress: [seconds, cpu, peak] of the phases timed inside each


def _timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` timed as phase ``name``; a phase timed inside another (curves inside fan-in) is its own line and
    is taken out of the outer one's seconds and CPU (the outer one's peak includes it)."""
    def timed(*args: Any, **kwargs: Any) -> Any:
        reset_hwm()
        _OPEN.append([0.0, 0.0, 0.0])
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            out = fn(*args, **kwargs)
        finally:
            inner = _OPEN.pop()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        own = max(hwm_mb(), int(inner[2]))
        print(f"PHASE {name} {seconds - inner[0]:.3f} {max(_PEAK[0], own)} {own} {cpu - inner[1]:.3f}",
              file=sys.stderr)
        if _OPEN:
            _OPEN[-1][0] += seconds
            _OPEN[-1][1] += cpu
            _OPEN[-1][2] = max(_OPEN[-1][2], own)
        return out
    return timed


# what the sweep imports in the phase that uses it (module whose attribute the sweep imports)
LATER = {"finalize": "trading_runtime.orchestration.finalize", "write_report": "trading_runtime.report"}
SWEEP = "trading_runtime.orchestration.sweep"  # where the sweep's steps are called from


def _tail_timed(cls: Any) -> Any:
    """The sweep's ``_PoolTail`` with its ``derive`` timed as the curves phase."""
    cls.derive = _timed(cls.derive, "curves")
    return cls


def _after_start(fn: Callable[..., Any], since: float) -> Callable[..., Any]:
    """``fn`` (the data phase) preceded by a ``start`` phase line: from the subcommand's modules imported to
    ``fn``'s first call (the config read and, since the eighth pass, numba's side imported while the data are
    read on a thread)."""
    def first(*args: Any, **kwargs: Any) -> Any:
        if not _STARTED:
            _STARTED.append(True)
            print(f"PHASE start {time.perf_counter() - since:.3f} {hwm_mb()} {hwm_mb()} "
                  f"{time.process_time() - _CPU_AT_IMPORTS[0]:.3f}", file=sys.stderr)
        return fn(*args, **kwargs)
    return first


_STARTED: list[bool] = []
_CPU_AT_IMPORTS = [0.0]


def main() -> int:
    # in the command's order: its entry module first, then the subcommand's modules as main() imports them;
    # the sweep's own modules are timed once imported (since the eighth pass, after its data read started)
    from trading_runtime.cli.main import main as cli_main
    from trading_runtime.cli.main import subcommand_module
    with start_up_pause():
        subcommand_module("sweep")  # what `trading-runtime sweep` imports
    imported, _CPU_AT_IMPORTS[0] = time.perf_counter(), time.process_time()

    print(f"PHASE imports {imported - T0:.3f} {hwm_mb()} {hwm_mb()} {time.process_time():.3f}", file=sys.stderr)
    for attr, name in (("load_inputs", "data"), ("build_plan", "plan"), ("execute", "shards")):
        wrap_on_import(SWEEP, attr, lambda fn, name=name: _timed(fn, name))
    wrap_on_import(SWEEP, "load_inputs", lambda fn: _after_start(fn, imported))
    for attr, name in (("finalize", "fan-in"), ("write_report", "report")):
        wrap_on_import(LATER[attr], attr, lambda fn, name=name: _timed(fn, name))
    # issue 13: finalize derives the curves that are read (its own phase line, taken out of fan-in)
    wrap_on_import("trading_runtime.orchestration.finalize", "derive_curves", lambda fn: _timed(fn, "curves"))
    # with more than one worker (eighth pass): finalize's documents ("fan-in"), the curves derived on the pool
    # ("curves", waiting for the workers included), then the report rendered while finalize's last writes run
    # on a thread ("report": what is left of the tail, the wait for those writes included)
    wrap_on_import(SWEEP, "_finish_on_cores", lambda fn: _timed(fn, "report"))
    wrap_on_import(SWEEP, "_PoolTail", _tail_timed)
    wrap_on_import("trading_runtime.orchestration.finalize", "final_documents", lambda fn: _timed(fn, "fan-in"))
    # as the console script calls it (``run()``): a process entry, whose imported objects are frozen out of the
    # collector once the parser is built (shard_phases.py does the same; a tree from before that keyword: as it was)
    import inspect  # already imported by the command's libraries

    entry = {"process_entry": True} if "process_entry" in inspect.signature(cli_main).parameters else {}
    return cli_main(sys.argv[1:], **entry)


if __name__ == "__main__":
    raise SystemExit(main())
