"""Seed-compatible local backtest, run from the repository root.

``python trading_runtime/local/backtest.py --config trading_runtime/local/local.json`` is the same
as ``trading-runtime backtest --config …``; run from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trading_runtime.cli.main import main


def run(argv: list[str] | None = None) -> int:
    return main(["backtest", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(run())
