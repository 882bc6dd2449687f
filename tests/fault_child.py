"""The CLI with a SIGKILL injected at one store write: ``python -m tests.fault_child ARGS`` runs
``trading-runtime ARGS`` with the local store's ``put_bytes``/``delete`` counted.

Environment:

- ``FAULT_KEY``: only calls on keys containing this text are counted (default: all);
- ``FAULT_KILL_AT=N``: the process SIGKILLs itself just before the N-th counted call (1-based), as a
  ``kill -9`` between two steps of a write would;
- ``FAULT_LOG=path``: one line per counted call (``put KEY`` / ``delete KEY``) is appended there.

Used by tests/integration/test_write_faults.py; nothing in the runtime knows about it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from trading_runtime.cli.main import main
from trading_runtime.store.local import LocalStore

_COUNT = [0]


def _step(kind: str, key: str) -> None:
    if os.environ.get("FAULT_KEY", "") not in key:
        return
    _COUNT[0] += 1
    log = os.environ.get("FAULT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{kind} {key}\n")
    if _COUNT[0] == int(os.environ.get("FAULT_KILL_AT", "0")):
        os.kill(os.getpid(), signal.SIGKILL)


def _counted(kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: LocalStore, key: str, *args: Any) -> Any:
        _step(kind, key)
        return method(self, key, *args)
    return wrapper


LocalStore.put_bytes = _counted("put", LocalStore.put_bytes)  # type: ignore[method-assign]
LocalStore.delete = _counted("delete", LocalStore.delete)  # type: ignore[method-assign]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
