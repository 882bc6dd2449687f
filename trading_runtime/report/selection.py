"""Selection statistics of a search's best run: raw Sharpe next to its probabilistic and deflated Sharpe.

For each window (fold) the best run by the in-sample objective is taken; its in-sample per-bar
returns give T, skew, kurtosis and the per-bar Sharpe; PSR(0) is the probability its true Sharpe is
positive; DSR deflates that for having picked the best of N trials, where N counts every run of
the window with a defined in-sample Sharpe and V is the variance of their per-bar Sharpe
estimates (the framework's annualised ``sharpe`` / sqrt(bars per year)). See ``trading_runtime.sharpe``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trading_runtime.sharpe import (
    Moments,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe,
    sample_variance,
    simple_returns,
)


@dataclass(frozen=True)
class SelectionStats:
    window: str
    run_id: str
    params: dict[str, Any]
    sharpe: float | None  # annualised, as reported by the framework
    n_returns: int
    skew: float | None
    kurtosis: float | None
    psr: float | None  # P(true Sharpe > 0)
    n_trials: int
    sr0: float  # annualised Sharpe expected from the best of n_trials skill-less trials
    dsr: float | None

    def row(self) -> dict[str, Any]:
        return {"window": self.window, "run_id": self.run_id, "sharpe": self.sharpe, "n_returns": self.n_returns,
                "skew": self.skew, "kurtosis": self.kurtosis, "psr": self.psr, "n_trials": self.n_trials,
                "sr0": self.sr0, "dsr": self.dsr}


def return_moments(equity: Any, initial: float) -> Moments:
    """The moments of a run's per-bar returns (equity from ``initial``) that its selection statistics use: the
    long part of :func:`selection_stats` (passes over every bar), which a caller may compute elsewhere."""
    return moments(simple_returns(equity, initial), powers="power")  # the report's form (sharpe.py, rounding forms)


def selection_stats(window: str, run_id: str, params: dict[str, Any], equity: Any, initial: float,
                    trial_sharpes: list[float | None], bars_per_year: float,
                    reported_sharpe: float | None = None, returns: Moments | None = None) -> SelectionStats:
    """``trial_sharpes``: annualised Sharpe of every trial of the window (None for undefined). ``returns``:
    ``return_moments(equity, initial)`` when already computed (a sweep computes it on a worker process)."""
    m = returns if returns is not None else return_moments(equity, initial)
    sr = m.sharpe
    ann = math.sqrt(bars_per_year)
    per_bar = [float(s) / ann for s in trial_sharpes if s is not None and math.isfinite(float(s))]
    psr = probabilistic_sharpe(sr, m.n, m.skew, m.kurtosis, powers="power")
    sr0 = expected_max_sharpe(len(per_bar), sample_variance(per_bar) or 0.0)
    dsr = probabilistic_sharpe(sr, m.n, m.skew, m.kurtosis, sr0, powers="power")
    sharpe = reported_sharpe if reported_sharpe is not None else (None if sr is None else sr * ann)
    return SelectionStats(window, run_id, params, sharpe, m.n, m.skew, m.kurtosis, psr, len(per_bar),
                          sr0 * ann, dsr)
