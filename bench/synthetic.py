"""Seeded synthetic one-minute bars for the benchmarks.

``make_bars`` uses the project's generator ``tests/data/scripts/synthetic.py`` (regime-switching
GBM, prices on a 0.01 tick) when it is there, else ``generate`` below (a plain GBM).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

from trading_framework import Bars

PROJECT_GENERATOR = Path(__file__).resolve().parent.parent / "tests" / "data" / "scripts" / "synthetic.py"

START_NS = 1_577_836_800_000_000_000  # 2020-01-01T00:00:00Z
MINUTE_NS = 60_000_000_000


def generate(n_bars: int, seed: int = 0, s0: float = 100.0, sigma_year: float = 0.6) -> Bars:
    """``n_bars`` valid one-minute OHLCV bars: a GBM close, open = previous close plus a small gap."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / (365 * 24 * 60)
    vol = sigma_year * np.sqrt(dt)
    log_ret = rng.standard_normal(n_bars) * vol - 0.5 * vol * vol
    close = s0 * np.exp(np.cumsum(log_ret))
    gap = np.exp(rng.standard_normal(n_bars) * vol * 0.1)
    open_ = np.empty(n_bars)
    open_[0] = s0
    open_[1:] = close[:-1]
    open_ *= gap
    wick = np.abs(rng.standard_normal((2, n_bars))) * vol * 0.5
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.gamma(2.0, 50.0, n_bars)
    ts = START_NS + np.arange(n_bars, dtype=np.int64) * MINUTE_NS
    return Bars(ts, open_, high, low, close, volume)


def _project_module() -> ModuleType | None:
    if not PROJECT_GENERATOR.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_project_synthetic", PROJECT_GENERATOR)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_bars(n_bars: int, seed: int, source: str = "auto") -> tuple[Bars, str]:
    """(bars, description of the generator): ``source`` is "project", "gbm" or "auto" (project if present)."""
    if source in ("auto", "project"):
        module = _project_module()
        if module is not None:
            return Bars(**module.generate(n_bars, seed)), f"tests/data/scripts/synthetic.py generate({n_bars}, {seed})"
        if source == "project":
            raise FileNotFoundError(PROJECT_GENERATOR)
    return generate(n_bars, seed), f"bench/synthetic.py GBM generate({n_bars}, {seed})"
