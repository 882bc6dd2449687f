"""Report statistics against closed forms: Student's t, the paired test, returns and drawdown."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from trading_runtime.report.stats import drawdown, paired_t_test, regularized_beta, student_t_two_sided_p
from trading_runtime.sharpe import simple_returns


def t_p_closed_form(t: float, df: int) -> float:
    """Two-sided p of Student's t for df 1, 2, 3 (closed-form CDFs)."""
    a = abs(t)
    if df == 1:
        cdf = 0.5 + math.atan(a) / math.pi
    elif df == 2:
        cdf = 0.5 + a / (2 * math.sqrt(2 + a * a))
    elif df == 3:
        x = a / math.sqrt(3)
        cdf = 0.5 + (x / (1 + x * x) + math.atan(x)) / math.pi
    else:
        raise ValueError(df)
    return 2 * (1 - cdf)


@pytest.mark.parametrize("df", [1, 2, 3])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 7.0, -4.2])
def test_student_t_matches_closed_forms(t, df):
    assert student_t_two_sided_p(t, df) == pytest.approx(t_p_closed_form(t, df), abs=1e-12)


def test_student_t_tends_to_the_normal_and_known_table_values():
    z = NormalDist().inv_cdf(0.975)
    assert student_t_two_sided_p(z, 10**7) == pytest.approx(0.05, abs=1e-6)
    assert student_t_two_sided_p(2.228138851986, 10) == pytest.approx(0.05, abs=1e-9)  # t table, 0.975 quantile
    assert student_t_two_sided_p(math.inf, 5) == 0.0


def test_regularized_beta_identities():
    assert regularized_beta(1, 1, 0.3) == pytest.approx(0.3, abs=1e-15)
    assert regularized_beta(2, 2, 0.5) == pytest.approx(0.5, abs=1e-15)
    for a, b, x in ((0.5, 3.0, 0.2), (5.0, 0.5, 0.9), (40.0, 0.5, 0.97)):
        assert regularized_beta(a, b, x) == pytest.approx(1 - regularized_beta(b, a, 1 - x), abs=1e-13)
    assert regularized_beta(2, 3, 0.0) == 0.0 and regularized_beta(2, 3, 1.0) == 1.0


def test_paired_t_test_by_hand():
    a = [0.01, 0.02, -0.01, 0.03]
    b = [0.0, 0.0, 0.0, 0.0]
    res = paired_t_test(a, b)
    d = np.array(a)
    t = d.mean() / (d.std(ddof=1) / 2)
    assert res.n == 4 and res.df == 3
    assert res.t == pytest.approx(t)
    assert res.p_two_sided == pytest.approx(t_p_closed_form(t, 3), abs=1e-12)
    same = paired_t_test(a, a)
    assert same.t is None and same.p_two_sided == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_t_test([1.0], [1.0, 2.0])


def test_returns_and_drawdown():
    eq = np.array([110.0, 99.0, 121.0])
    assert simple_returns(eq, 100.0).tolist() == pytest.approx([0.1, -0.1, 121 / 99 - 1])
    assert simple_returns(eq).tolist() == pytest.approx([-0.1, 121 / 99 - 1])
    assert drawdown(eq, 100.0).tolist() == pytest.approx([0.0, -0.1, 0.0])
    assert drawdown([90.0, 95.0], 100.0).tolist() == pytest.approx([-0.1, -0.05])


def _drawdown_from_joined_peak(equity: np.ndarray, initial: float) -> np.ndarray:
    """The running peak of [initial, *equity] (the form before issue 13's thirteenth pass)."""
    peak = np.maximum.accumulate(np.concatenate(([initial], equity)))[1:]
    return np.asarray(equity / peak - 1.0, dtype=np.float64)


@pytest.mark.parametrize("initial", [100_000.0, 1.0, 0.0, -5.0])
def test_drawdown_is_that_of_the_peak_joined_to_the_initial_cash_to_the_bit(initial: float) -> None:
    rng = np.random.default_rng(7)
    eq = 100_000.0 + np.cumsum(rng.normal(0, 300, 50_000))
    eq[100:200] = 100_000.0  # the initial cash itself, several times
    eq[-3] = np.nan  # the running peak is NaN from there on
    eq[400:410] = [0.0, -0.0, 0.0, np.inf, -np.inf, 1e-300, -1e-300, 0.0, 5e-324, -0.0]
    with np.errstate(divide="ignore", invalid="ignore"):
        got, want = drawdown(eq, initial), _drawdown_from_joined_peak(eq, initial)
    assert got.dtype == np.float64 and got.tobytes() == want.tobytes()
