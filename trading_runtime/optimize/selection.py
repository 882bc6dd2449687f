"""Selection statistics of the best trial: probabilistic and deflated Sharpe ratios.

Bailey & López de Prado, "The Sharpe Ratio Efficient Frontier" (2012) and "The Deflated Sharpe
Ratio" (2014). All Sharpe ratios here are per bar (not annualised):

- PSR(SR*) = Φ( (SR − SR*) · √(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) ), with SR the sample
  Sharpe ratio of T returns (mean / standard deviation, ddof 1), γ₃ their skewness and γ₄ their
  kurtosis (population moments; 3 for normal returns);
- DSR = PSR(SR₀), SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))): the expected maximum
  Sharpe ratio of N trials whose Sharpe ratios have variance V, γ the Euler–Mascheroni constant.

Undefined inputs (fewer than 2 returns, zero variance, a non-positive radicand, fewer than 2
trial Sharpe ratios) give None, written as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = ["EULER_GAMMA", "ReturnStats", "expected_max_sharpe", "probabilistic_sharpe_ratio", "return_stats"]

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


@dataclass(frozen=True)
class ReturnStats:
    n: int
    sharpe: float  # per bar: mean / std (ddof 1)
    skewness: float
    kurtosis: float  # not excess: 3 for a normal distribution


def return_stats(returns: npt.NDArray[np.float64]) -> ReturnStats | None:
    r = np.asarray(returns, dtype=np.float64)
    n = len(r)
    if n < 2:
        return None
    mu = float(np.mean(r))
    d = r - mu
    m2 = float(np.mean(d * d))
    if not m2 > 0:
        return None
    std = math.sqrt(m2 * n / (n - 1))
    m3 = float(np.mean(d * d * d))
    m4 = float(np.mean((d * d) * (d * d)))
    return ReturnStats(n, mu / std, m3 / m2**1.5, m4 / (m2 * m2))


def probabilistic_sharpe_ratio(stats: ReturnStats, benchmark: float) -> float | None:
    radicand = 1.0 - stats.skewness * stats.sharpe + (stats.kurtosis - 1.0) / 4.0 * stats.sharpe**2
    if not radicand > 0:
        return None
    z = (stats.sharpe - benchmark) * math.sqrt(stats.n - 1) / math.sqrt(radicand)
    return _N.cdf(z)


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """E[max SR] of ``n_trials`` trials with Sharpe variance ``variance`` (0 for a single trial)."""
    if n_trials < 2:
        return 0.0
    a = _N.inv_cdf(1.0 - 1.0 / n_trials)
    b = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b)


def sample_variance(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
