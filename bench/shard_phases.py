"""``trading-runtime run-shard`` with its steps timed (run by cold_start.py): prints ``PHASE name seconds``
lines on stderr for imports, plan, data, (since the eighth pass: inputs, kernels, wait,) first run, other runs,
write, and ``AT first-result <ns> <cpu>``:
the wall clock (``time.time_ns()``) when the shard's first run returned its metrics (the first backtest's
result), which cold_start.py subtracts from the moment it started the process, and the process's CPU
seconds by then (all its threads). The command itself is
unchanged.

``imports`` is measured from this script's first line (the interpreter's own start-up is before it:
cold_start.py measures that as ``python -c pass``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

T0 = time.perf_counter()

from on_import import start_up_pause, wrap_on_import  # noqa: E402  (bench/, the script's own folder)

RUNS: list[float] = []


def _timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        dt = time.perf_counter() - t0
        if name == "run":
            if not RUNS:
                at_ns, cpu = time.time_ns(), time.process_time()
                print(f"AT first-result {at_ns} {cpu:.4f}", file=sys.stderr)
            RUNS.append(dt)
        else:
            print(f"PHASE {name} {dt:.4f}", file=sys.stderr)
        return out
    return timed


def main() -> int:
    # in the command's order: its entry module first, then the subcommand's modules as main() imports them;
    # the modules it imports later (numba's side, once the data read has started) are wrapped when they are
    from trading_runtime.cli.main import main as cli_main
    from trading_runtime.cli.main import subcommand_module
    with start_up_pause():
        cli_run_shard = subcommand_module("run-shard")  # what `trading-runtime run-shard` imports

    print(f"PHASE imports {time.perf_counter() - T0:.4f}", file=sys.stderr)
    cli_run_shard.read_plan = _timed(cli_run_shard.read_plan, "plan")
    if hasattr(cli_run_shard, "inputs_for_plan"):  # a tree before the data read on a thread (eighth pass)
        cli_run_shard.inputs_for_plan = _timed(cli_run_shard.inputs_for_plan, "data")
    else:  # data: the read on its thread; inputs: from the plan read to the inputs ready (numba's imports,
        # the kernels, the wait for the data); kernels: their warm-up; wait: the strategy class and the join
        cli_run_shard.shard_inputs = _timed(cli_run_shard.shard_inputs, "inputs")
        wrap_on_import("trading_runtime.execution.read_ahead", "read_planned_data",
                       lambda fn: _timed(fn, "data"))
        wrap_on_import("trading_runtime.execution.kernel_warmup", "warm_up_quietly", lambda fn: _timed(fn, "kernels"))
        wrap_on_import("trading_runtime.execution.experiment", "planned_inputs", lambda fn: _timed(fn, "wait"))
    shard_module = "trading_runtime.execution.shard"
    name = "run_segment" if "def run_segment(" in open_source(shard_module) else "_run_segment"  # before curves
    wrap_on_import(shard_module, name, lambda fn: _timed(fn, "run"))
    wrap_on_import("trading_runtime.execution.experiment", "write_shard", lambda fn: _timed(fn, "write"))
    # as the console script calls it (``run()``): a process entry, whose imported objects are frozen out of
    # the collector once the parser is built (a tree from before that keyword: called as it was)
    import inspect  # already imported by the command's libraries

    entry = {"process_entry": True} if "process_entry" in inspect.signature(cli_main).parameters else {}
    code = cli_main(sys.argv[1:], **entry)
    if RUNS:
        print(f"PHASE first-run {RUNS[0]:.4f}", file=sys.stderr)
        print(f"PHASE other-runs {sum(RUNS[1:]):.4f}", file=sys.stderr)
    return code


def open_source(module: str) -> str:
    """The source text of ``module``, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as f:
        return f.read()


if __name__ == "__main__":
    raise SystemExit(main())
