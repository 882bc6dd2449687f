"""Sharpe-ratio statistics of per-bar returns: moments, probabilistic and deflated Sharpe ratios.

The one implementation behind the Optuna results (``optimize.results``) and the reports
(``report.selection``, ``report.compare``). Bailey & López de Prado, "The Sharpe Ratio Efficient
Frontier" (2012) and "The Deflated Sharpe Ratio" (2014). All Sharpe ratios here are **per bar**
(mean / standard deviation of simple per-bar returns, ddof 1); multiply by
``sqrt(bars_per_year)`` to annualise, as the framework's ``sharpe`` metric does.

- Moments: ``skew`` = m3 / m2^1.5 and ``kurtosis`` = m4 / m2^2 (not excess: 3 for a normal), from
  the population central moments m_k of the ``T`` returns.
- PSR(SR*) = Φ( (SR − SR*) · √(T − 1) / √(1 − skew·SR + (kurtosis − 1)/4 · SR²) ): the probability
  that the true Sharpe exceeds SR* given the estimate SR from T returns.
- DSR = PSR(SR₀), SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))): the Sharpe the best of
  N skill-less trials reaches in expectation, V the variance of the trials' Sharpe estimates,
  γ the Euler–Mascheroni constant. With one trial (or no dispersion) SR₀ = 0 and DSR = PSR(0).
  Which trials count as N, and which give V, is the caller's policy (a study counts every trial;
  an experiment's window counts its runs with a defined Sharpe).

Rounding forms (``powers``): the same formulas are evaluated in two floating-point forms, one per
family of result documents, so each keeps the bits it has always had (they differ by a few ulp):

- ``"power"``: NumPy's ``d**2``, ``d**3``, ``d**4`` and ``m2**2``, and the PSR radicand's last term as
  ``(kurtosis − 1)/4 · SR · SR`` (left to right). compare.json and the experiment report's selection
  statistics (``report.compare``, ``report.selection``).
- ``"product"``: ``d*d``, ``d*d*d``, ``(d*d)*(d*d)`` and ``m2*m2``, and the radicand's last term as
  ``(kurtosis − 1)/4 · SR²``. The Optuna results (``optimize.results``; golden files).

Undefined values (fewer than 2 returns, zero variance, a non-positive radicand, fewer than 2 trial
Sharpe ratios for a variance) are None, written as null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "EULER_GAMMA", "Moments", "Powers", "expected_max_sharpe", "moments", "probabilistic_sharpe", "sample_variance",
    "simple_returns",
]

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()

FloatArray = npt.NDArray[np.float64]

# How powers are rounded: "power" (numpy ``**``) or "product" (repeated multiplication); see the module doc.
Powers = Literal["power", "product"]


def simple_returns(equity: npt.ArrayLike, initial: float | None = None) -> FloatArray:
    """Per-bar simple returns; with ``initial`` the first bar's return is relative to it.

    After a total loss (equity at or below 0 at the previous bar) nothing is left to gain or lose:
    those bars return 0, so a ruined backtest still compares (its ruin bar returned -100%).
    """
    eq = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate(([float(initial)], eq[:-1])) if initial is not None else eq[:-1]
    cur = eq if initial is not None else eq[1:]
    ruined = prev <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = cur / np.where(ruined, 1.0, prev) - 1.0
    return np.asarray(np.where(ruined, 0.0, out), dtype=np.float64)


@dataclass(frozen=True)
class Moments:
    n: int
    mean: float
    std: float  # ddof=1
    skew: float | None
    kurtosis: float | None  # not excess: 3 for a normal distribution

    @property
    def sharpe(self) -> float | None:
        """Per-bar Sharpe ratio, None when undefined."""
        if self.n < 2 or not self.std > 0:
            return None
        return self.mean / self.std

    @property
    def psr_defined(self) -> bool:
        """Sharpe, skew and kurtosis all defined (at least 2 returns, positive variance)."""
        return self.sharpe is not None and self.skew is not None and self.kurtosis is not None


def moments(x: npt.ArrayLike, *, powers: Powers) -> Moments:
    """Mean, std (ddof 1), skew and kurtosis of ``x``; ``powers`` picks the rounding form (module doc)."""
    a = np.asarray(x, dtype=np.float64)
    n = len(a)
    if n == 0:
        return Moments(0, math.nan, math.nan, None, None)
    mean = float(np.mean(a))
    d = a - mean
    if powers == "power":
        d2, d3, d4 = d**2, d**3, d**4
    else:
        d2 = d * d
        d3, d4 = d2 * d, d2 * d2
    m2 = float(np.mean(d2))
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else 0.0
    if m2 > 0:
        skew: float | None = float(np.mean(d3)) / m2**1.5
        kurt: float | None = float(np.mean(d4)) / (m2**2 if powers == "power" else m2 * m2)
    else:
        skew = kurt = None
    return Moments(n, mean, std, skew, kurt)


def probabilistic_sharpe(sr: float | None, n: int, skew: float | None, kurtosis: float | None,
                         sr_star: float = 0.0, *, powers: Powers) -> float | None:
    """P(true per-bar Sharpe > ``sr_star``) given the estimate ``sr`` from ``n`` returns."""
    if sr is None or skew is None or kurtosis is None or n < 2:
        return None
    tail = (kurtosis - 1.0) / 4.0 * sr * sr if powers == "power" else (kurtosis - 1.0) / 4.0 * sr**2
    radicand = 1.0 - skew * sr + tail
    if not radicand > 0:
        return None
    return _NORMAL.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(radicand))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """SR₀: the Sharpe the best of ``n_trials`` skill-less trials reaches, in expectation (0 for one)."""
    if n_trials < 2 or not variance > 0:
        return 0.0
    z1 = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def sample_variance(values: Sequence[float]) -> float | None:
    """Variance with ddof 1 (exactly summed); None for fewer than 2 values."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
