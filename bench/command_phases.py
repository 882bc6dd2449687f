"""``trading-runtime`` with the sweep's steps timed (run by command.py): prints ``PHASE name seconds VmHWM_MB``
lines on stderr for imports, data, plan, shards, fan-in and report. The command itself is unchanged."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

T0 = time.perf_counter()


def hwm_mb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) // 1024


def _timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        print(f"PHASE {name} {time.perf_counter() - t0:.3f} {hwm_mb()}", file=sys.stderr)
        return out
    return timed


def main() -> int:
    from trading_runtime.cli import sweep as _cli_sweep  # noqa: F401  (what `trading-runtime sweep` imports)
    from trading_runtime.cli.main import main as cli_main
    from trading_runtime.orchestration import sweep  # where the sweep's steps are called from

    print(f"PHASE imports {time.perf_counter() - T0:.3f} {hwm_mb()}", file=sys.stderr)
    for attr, name in (("load_inputs", "data"), ("build_plan", "plan"), ("execute", "shards"),
                       ("finalize", "fan-in"), ("write_report", "report")):
        setattr(sweep, attr, _timed(getattr(sweep, attr), name))
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
