"""Selection-aware statistics of per-bar returns: probabilistic and deflated Sharpe, paired t-test.

All Sharpe ratios here are **per bar** (mean / standard deviation of simple per-bar returns,
ddof=1); multiply by ``sqrt(bars_per_year)`` to annualise, as the framework's ``sharpe`` metric does.

- Moments: ``skew`` = m3 / m2^1.5 and ``kurtosis`` = m4 / m2^2 (not excess: 3 for a normal), from
  the population central moments m_k of the ``T`` returns.
- Probabilistic Sharpe ratio (Bailey & López de Prado, 2012): the probability that the true Sharpe
  exceeds ``sr_star`` given the estimate ``sr`` from ``T`` returns with that skew and kurtosis::

      PSR(sr*) = Φ( (sr − sr*) · sqrt(T − 1) / sqrt(1 − skew·sr + (kurtosis − 1)/4 · sr²) )

- Deflated Sharpe ratio (Bailey & López de Prado, 2014): PSR against the Sharpe that the best of
  ``N`` unskilled trials is expected to reach, from the variance ``V`` of the trials' Sharpe
  estimates (γ = Euler–Mascheroni constant)::

      sr0 = sqrt(V) · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)));   DSR = PSR(sr0)

  With one trial (or no dispersion) sr0 = 0 and DSR = PSR(0).
- Paired t-test of two return series on the same bars: d = a − b, t = mean(d) / (sd(d) / sqrt(n)),
  df = n − 1, two-sided p = I_{df/(df+t²)}(df/2, 1/2) (Student's t through the regularised
  incomplete beta function, evaluated by its continued fraction). It assumes independent
  differences; bar returns of trading strategies are often autocorrelated, which makes p too small.

Undefined values (too few returns, zero variance, a negative PSR radicand) are ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()

FloatArray = npt.NDArray[np.float64]


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
    kurtosis: float | None  # not excess

    @property
    def sharpe(self) -> float | None:
        """Per-bar Sharpe ratio, None when undefined."""
        if self.n < 2 or not self.std > 0:
            return None
        return self.mean / self.std


def moments(x: npt.ArrayLike) -> Moments:
    a = np.asarray(x, dtype=np.float64)
    n = len(a)
    if n == 0:
        return Moments(0, math.nan, math.nan, None, None)
    mean = float(np.mean(a))
    dev = a - mean
    m2 = float(np.mean(dev**2))
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else 0.0
    if m2 > 0:
        skew: float | None = float(np.mean(dev**3)) / m2**1.5
        kurt: float | None = float(np.mean(dev**4)) / m2**2
    else:
        skew = kurt = None
    return Moments(n, mean, std, skew, kurt)


def probabilistic_sharpe(sr: float | None, n: int, skew: float | None, kurtosis: float | None,
                         sr_star: float = 0.0) -> float | None:
    """P(true per-bar Sharpe > ``sr_star``) given the estimate ``sr`` from ``n`` returns."""
    if sr is None or skew is None or kurtosis is None or n < 2:
        return None
    radicand = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not radicand > 0:
        return None
    return _NORMAL.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(radicand))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """sr0: the Sharpe the best of ``n_trials`` skill-less trials reaches, in expectation."""
    if n_trials < 2 or not variance > 0:
        return 0.0
    z1 = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe(sr: float | None, n: int, skew: float | None, kurtosis: float | None,
                    trial_sharpes: list[float]) -> tuple[float | None, float]:
    """(DSR, sr0) of the best trial, ``trial_sharpes`` = every trial's per-bar Sharpe estimate."""
    finite = [s for s in trial_sharpes if math.isfinite(s)]
    var = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    sr0 = expected_max_sharpe(len(finite), var)
    return probabilistic_sharpe(sr, n, skew, kurtosis, sr0), sr0


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return min(1.0, regularized_beta(df / 2.0, 0.5, df / (df + t * t)))


@dataclass(frozen=True)
class PairedTest:
    n: int
    mean_difference: float | None
    std_difference: float | None
    t: float | None
    df: int
    p_two_sided: float | None


def paired_t_test(a: npt.ArrayLike, b: npt.ArrayLike) -> PairedTest:
    """Paired t-test of mean(a − b) = 0 (same length, same bars)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired test needs equal lengths (got {len(x)} and {len(y)})")
    d = x - y
    n = len(d)
    if n < 2:
        return PairedTest(n, float(np.mean(d)) if n else None, None, None, max(n - 1, 0), None)
    mean = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    if not sd > 0:
        return PairedTest(n, mean, sd, None, n - 1, 1.0 if mean == 0 else 0.0)
    t = mean / (sd / math.sqrt(n))
    return PairedTest(n, mean, sd, t, n - 1, student_t_two_sided_p(t, n - 1))


def drawdown(equity: npt.ArrayLike, initial: float | None = None) -> FloatArray:
    """Drawdown from the running peak at every bar, as a fraction ≤ 0."""
    eq = np.asarray(equity, dtype=np.float64)
    start = [float(initial)] if initial is not None else []
    peak = np.maximum.accumulate(np.concatenate((start, eq)))[len(start):]
    return np.asarray(eq / peak - 1.0, dtype=np.float64)
