"""trading_runtime.sharpe: moments, PSR, DSR (Bailey & López de Prado) against the papers' example, by hand
and in closed form."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from trading_runtime.sharpe import EULER_GAMMA, expected_max_sharpe, moments, probabilistic_sharpe, sample_variance


def test_deflated_sharpe_ratio_of_the_papers_example():
    # "The Deflated Sharpe Ratio" (2014), section 4: N = 100 trials, V[SR] = 1/2 annualised, an annualised
    # SR of 2.5 over T = 1250 daily returns with skewness -3 and kurtosis 10 -> SR0 = 0.1132 (daily) and
    # DSR = 0.9004.
    daily = 250
    sr0 = expected_max_sharpe(100, 0.5 / daily)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    psr = probabilistic_sharpe(2.5 / math.sqrt(daily), 1250, -3.0, 10.0, sr0, powers="product")
    assert psr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_by_hand():
    n, v = 40, 2.6e-5
    z = NormalDist().inv_cdf
    by_hand = math.sqrt(v) * ((1 - 0.5772156649015329) * z(1 - 1 / n) + 0.5772156649015329 * z(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == by_hand
    assert abs(EULER_GAMMA - 0.5772156649015329) < 1e-16
    assert expected_max_sharpe(1, v) == 0.0  # one trial: nothing was selected


def test_psr_is_one_half_at_the_benchmark_and_grows_with_the_sharpe():
    def psr(benchmark: float) -> float | None:
        return probabilistic_sharpe(0.1, 500, 0.0, 3.0, benchmark, powers="product")

    assert psr(0.1) == 0.5
    assert psr(0.0) > psr(0.05) > 0.5
    # normal returns: z = SR * sqrt(T - 1) / sqrt(1 + SR^2 / 2)
    z = 0.1 * math.sqrt(499) / math.sqrt(1 + 0.5 * 0.01)
    assert psr(0.0) == NormalDist().cdf(z)


def test_return_moments_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015, -0.005])
    mu = sum(r) / 6
    d = [x - mu for x in r]
    m2 = sum(x * x for x in d) / 6
    st = moments(r, powers="product")
    assert st.psr_defined and st.n == 6
    assert st.sharpe == pytest.approx(mu / math.sqrt(m2 * 6 / 5), rel=1e-12)
    assert st.skew == pytest.approx(sum(x ** 3 for x in d) / 6 / m2 ** 1.5, rel=1e-12)
    assert st.kurtosis == pytest.approx(sum(x ** 4 for x in d) / 6 / m2 ** 2, rel=1e-12)


def test_undefined_inputs_give_none():
    assert not moments(np.array([0.01]), powers="product").psr_defined
    assert not moments(np.zeros(10), powers="product").psr_defined
    assert probabilistic_sharpe(None, 10, 0.0, 3.0, powers="product") is None
    assert sample_variance([1.0]) is None
    assert sample_variance([1.0, 3.0]) == 2.0
    # a radicand <= 0 (huge positive skew with a large Sharpe) has no PSR
    assert probabilistic_sharpe(2.0, 10, 5.0, 3.0, powers="product") is None


def test_moments_of_a_symmetric_sample():
    m = moments([-2.0, -1.0, 0.0, 1.0, 2.0], powers="product")
    assert m.n == 5 and m.mean == 0.0
    assert m.std == pytest.approx(math.sqrt(2.5))
    assert m.skew == pytest.approx(0.0)
    assert m.kurtosis == pytest.approx(1.7)  # m4 / m2² = 6.8 / 4
    assert moments([1.0, 1.0, 1.0], powers="product").sharpe is None


def test_psr_closed_form_for_normal_moments():
    sr, n = 0.05, 1000
    expected = NormalDist().cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + (3 - 1) / 4 * sr * sr))
    assert probabilistic_sharpe(sr, n, 0.0, 3.0, powers="product") == pytest.approx(expected, abs=1e-15)
    assert probabilistic_sharpe(sr, n, 0.0, 3.0, sr_star=sr, powers="product") == pytest.approx(0.5)
    # negative skew and fat tails widen the estimate's error: less confidence
    assert probabilistic_sharpe(sr, n, -1.0, 10.0, powers="product") < expected


def test_expected_max_sharpe_and_deflation():
    assert expected_max_sharpe(1, 1.0) == 0.0
    assert expected_max_sharpe(100, 0.0) == 0.0
    assert expected_max_sharpe(100, math.nan) == 0.0  # an undefined dispersion deflates nothing
    # E[max of 100 standard normals] ≈ 2.5076; the Gumbel approximation lands close to it
    assert expected_max_sharpe(100, 1.0) == pytest.approx(2.5076, abs=0.05)
    trials = [0.01 * k for k in range(-10, 11)]
    variance = sample_variance(trials)
    assert variance == pytest.approx(float(np.var(trials, ddof=1)), rel=1e-15)
    sr0 = expected_max_sharpe(len(trials), variance or 0.0)
    assert sr0 > 0
    dsr = probabilistic_sharpe(0.1, 5000, 0.0, 3.0, sr0, powers="product")
    assert dsr is not None and dsr < probabilistic_sharpe(0.1, 5000, 0.0, 3.0, powers="product")
