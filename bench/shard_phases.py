"""``trading-runtime run-shard`` with its steps timed (run by cold_start.py): prints ``PHASE name seconds``
lines on stderr for imports, plan, data, first run, other runs, write, and ``AT first-result <ns> <cpu>``:
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

from on_import import start_up_pause  # noqa: E402  (bench/, the script's own folder)

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
    # in the command's order: its entry module first, then the subcommand's modules as main() imports them
    from trading_runtime.cli.main import main as cli_main
    from trading_runtime.cli.main import subcommand_module
    with start_up_pause():
        cli_run_shard = subcommand_module("run-shard")  # what `trading-runtime run-shard` imports
    from trading_runtime.execution import experiment, shard

    print(f"PHASE imports {time.perf_counter() - T0:.4f}", file=sys.stderr)
    cli_run_shard.read_plan = _timed(cli_run_shard.read_plan, "plan")
    cli_run_shard.inputs_for_plan = _timed(cli_run_shard.inputs_for_plan, "data")
    name = "run_segment" if hasattr(shard, "run_segment") else "_run_segment"  # its name before issue 13's curves
    setattr(shard, name, _timed(getattr(shard, name), "run"))
    experiment.write_shard = _timed(experiment.write_shard, "write")
    # as the console script calls it (``run()``): a process entry, whose imported objects are frozen out of
    # the collector once the parser is built (a tree from before that keyword: called as it was)
    import inspect  # already imported by the command's libraries

    entry = {"process_entry": True} if "process_entry" in inspect.signature(cli_main).parameters else {}
    code = cli_main(sys.argv[1:], **entry)
    if RUNS:
        print(f"PHASE first-run {RUNS[0]:.4f}", file=sys.stderr)
        print(f"PHASE other-runs {sum(RUNS[1:]):.4f}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
