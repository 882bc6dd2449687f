"""The benchmark's workloads, shared by ``engine.py`` and its subprocesses (``child.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import ValidationError

from trading_framework import Bars, ExecutionSpec, FeatureCache, bars_per_year, run_backtest
from trading_framework.bars import COLUMNS
from trading_framework.metrics import Metric
from trading_runtime.strategies.sma_cross import SmaCross

TIMEFRAME_SECONDS = 60
FAST_GRID = tuple(range(5, 51, 5))  # 5, 10, ..., 50
SLOW_GRID = tuple(range(20, 201, 20))  # 20, 40, ..., 200
SINGLE = (10, 50)  # the parameters of the single-backtest measure


def grid() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(valid, invalid) (fast, slow) pairs of the 10 x 10 grid; SmaCross.Params rejects fast >= slow."""
    valid: list[tuple[int, int]] = []
    invalid: list[tuple[int, int]] = []
    for fast in FAST_GRID:
        for slow in SLOW_GRID:
            try:
                SmaCross.Params(fast=fast, slow=slow)
            except ValidationError:
                invalid.append((fast, slow))
            else:
                valid.append((fast, slow))
    return valid, invalid


def save_bars(bars: Bars, path: str | Path) -> None:
    np.savez(path, **{c: getattr(bars, c) for c in COLUMNS})


def load_bars(path: str | Path) -> Bars:
    with np.load(path) as z:
        return Bars(*(z[c] for c in COLUMNS))


def engine_backtest(bars: Bars, fast: int, slow: int, features: FeatureCache | None = None) -> dict[str, Metric]:
    """One framework backtest (a fresh feature cache unless one is given), returning its metrics."""
    strategy = SmaCross(SmaCross.Params(fast=fast, slow=slow))
    return run_backtest(bars, strategy, ExecutionSpec(), TIMEFRAME_SECONDS, features=features).metrics


def engine_sweep(bars: Bars, combos: list[tuple[int, int]]) -> list[dict[str, Metric]]:
    """Every combo through ``run_backtest`` in this process, all sharing ONE FeatureCache."""
    features = FeatureCache(bars)
    return [engine_backtest(bars, fast, slow, features) for fast, slow in combos]


def floor_backtest(bars: Bars, fast: int, slow: int) -> dict[str, Metric]:
    """The single-pass reference kernel on the same inputs (default ExecutionSpec)."""
    from floor import floor_metrics, floor_sma_cross

    spec = ExecutionSpec()
    raw = floor_sma_cross(bars.open, bars.close, fast, slow, spec.initial_cash, spec.fee_bps / 1e4,
                          spec.slippage_bps / 1e4)
    return floor_metrics(raw, len(bars), spec.initial_cash, bars_per_year(TIMEFRAME_SECONDS),
                         (int(bars.ts[-1]) - int(bars.ts[0])) / 1e9)


def floor_sweep(bars: Bars, combos: list[tuple[int, int]]) -> list[dict[str, Metric]]:
    return [floor_backtest(bars, fast, slow) for fast, slow in combos]


def max_rel_diff(a: dict[str, Metric], b: dict[str, Metric]) -> tuple[float, str]:
    """Largest relative difference over the metrics both define, and its name (inf if None-ness differs)."""
    worst, name = 0.0, ""
    for key, va in a.items():
        vb = b[key]
        if va is None or vb is None:
            d = 0.0 if va is None and vb is None else float("inf")
        else:
            d = abs(va - vb) / max(abs(va), abs(vb), 1e-300) if va != vb else 0.0
        if d > worst or not name:
            worst, name = d, key
    return worst, name
