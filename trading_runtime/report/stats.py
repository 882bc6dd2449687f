"""Statistics the reports add to ``trading_runtime.sharpe``: the paired t-test and drawdowns.

- Paired t-test of two return series on the same bars: d = a − b, t = mean(d) / (sd(d) / sqrt(n)),
  df = n − 1, two-sided p = I_{df/(df+t²)}(df/2, 1/2) (Student's t through the regularised
  incomplete beta function, evaluated by its continued fraction). It assumes independent
  differences; bar returns of trading strategies are often autocorrelated, which makes p too small.

Moments, the probabilistic and the deflated Sharpe ratio are in ``trading_runtime.sharpe``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


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
    if initial is not None and float(initial) > 0:
        # the running peak from ``initial``, in one array: max(initial, running max) is the running max of
        # [initial, *eq] (a positive start: no sign of zero to tell apart), then the fraction in place
        peak = np.maximum.accumulate(eq)
        np.maximum(peak, float(initial), out=peak)
        np.divide(eq, peak, out=peak)
        peak -= 1.0
        return peak
    start = [float(initial)] if initial is not None else []
    peak = np.maximum.accumulate(np.concatenate((start, eq)))[len(start):]
    return np.asarray(eq / peak - 1.0, dtype=np.float64)
