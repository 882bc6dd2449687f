"""PSR / DSR (Bailey & López de Prado) against the papers' numerical example and by hand."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from trading_runtime.optimize.selection import (
    EULER_GAMMA,
    ReturnStats,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_stats,
    sample_variance,
)


def test_deflated_sharpe_ratio_of_the_papers_example():
    # "The Deflated Sharpe Ratio" (2014), section 4: N = 100 trials, V[SR] = 1/2 annualised, an annualised
    # SR of 2.5 over T = 1250 daily returns with skewness -3 and kurtosis 10 -> SR0 = 0.1132 (daily) and
    # DSR = 0.9004.
    daily = 250
    sr0 = expected_max_sharpe(100, 0.5 / daily)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    stats = ReturnStats(n=1250, sharpe=2.5 / math.sqrt(daily), skewness=-3.0, kurtosis=10.0)
    assert probabilistic_sharpe_ratio(stats, sr0) == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_by_hand():
    n, v = 40, 2.6e-5
    z = NormalDist().inv_cdf
    by_hand = math.sqrt(v) * ((1 - 0.5772156649015329) * z(1 - 1 / n) + 0.5772156649015329 * z(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == by_hand
    assert abs(EULER_GAMMA - 0.5772156649015329) < 1e-16
    assert expected_max_sharpe(1, v) == 0.0  # one trial: nothing was selected


def test_psr_is_one_half_at_the_benchmark_and_grows_with_the_sharpe():
    s = ReturnStats(n=500, sharpe=0.1, skewness=0.0, kurtosis=3.0)
    assert probabilistic_sharpe_ratio(s, 0.1) == 0.5
    assert probabilistic_sharpe_ratio(s, 0.0) > probabilistic_sharpe_ratio(s, 0.05) > 0.5
    # normal returns: z = SR * sqrt(T - 1) / sqrt(1 + SR^2 / 2)
    z = 0.1 * math.sqrt(499) / math.sqrt(1 + 0.5 * 0.01)
    assert probabilistic_sharpe_ratio(s, 0.0) == NormalDist().cdf(z)


def test_return_moments_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015, -0.005])
    mu = sum(r) / 6
    d = [x - mu for x in r]
    m2 = sum(x * x for x in d) / 6
    st = return_stats(r)
    assert st is not None and st.n == 6
    assert st.sharpe == pytest.approx(mu / math.sqrt(m2 * 6 / 5), rel=1e-12)
    assert st.skewness == pytest.approx(sum(x ** 3 for x in d) / 6 / m2 ** 1.5, rel=1e-12)
    assert st.kurtosis == pytest.approx(sum(x ** 4 for x in d) / 6 / m2 ** 2, rel=1e-12)


def test_undefined_inputs_give_none():
    assert return_stats(np.array([0.01])) is None
    assert return_stats(np.zeros(10)) is None
    assert sample_variance([1.0]) is None
    assert sample_variance([1.0, 3.0]) == 2.0
    # a radicand <= 0 (huge positive skew with a large Sharpe) has no PSR
    assert probabilistic_sharpe_ratio(ReturnStats(10, 2.0, 5.0, 3.0), 0.0) is None
