"""FeatureCache: indicators equal naive loops; values are computed once and read-only."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from trading_framework import Bars, ExecutionSpec, FeatureCache, Strategy, StrategyParams, run_backtest


def random_bars(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.uniform(0, 1000, n)
    return Bars(np.arange(n, dtype=np.int64) * 60_000_000_000, open_, high, low, close, volume)


# ---- naive references: one window at a time, plain Python --------------------------------------


def naive_sma(x: list[float], window: int) -> list[float]:
    return [math.nan if i < window - 1 else math.fsum(x[i - window + 1 : i + 1]) / window for i in range(len(x))]


def naive_rolling(x: list[float], window: int, pick: Callable[[list[float]], float]) -> list[float]:
    return [math.nan if i < window - 1 else pick(x[i - window + 1 : i + 1]) for i in range(len(x))]


def naive_rsi(close: list[float], window: int) -> list[float]:
    """Wilder's RSI: the first average is the plain mean of the first ``window`` changes (value at
    index ``window``), then avg = (avg * (window - 1) + change) / window; 100 when avg loss is 0."""
    out = [math.nan] * len(close)
    if len(close) <= window:
        return out
    changes = [close[i] - close[i - 1] for i in range(1, len(close))]
    gain = sum(max(d, 0.0) for d in changes[:window]) / window
    loss = sum(max(-d, 0.0) for d in changes[:window]) / window
    for i in range(window, len(close)):
        if i > window:
            d = changes[i - 1]
            gain = (gain * (window - 1) + max(d, 0.0)) / window
            loss = (loss * (window - 1) + max(-d, 0.0)) / window
        out[i] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


def assert_same(actual: np.ndarray, expected: list[float], rel: float = 1e-9) -> None:
    assert actual.dtype == np.float64
    assert len(actual) == len(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, np.array(expected), rtol=rel, atol=0, equal_nan=True)


SIZES = [(1, 0), (7, 1), (300, 2), (10_000, 3)]  # 10_000 > 4096: the rolling mean re-sums there


@pytest.mark.parametrize(("n", "seed"), SIZES, ids=[f"n{n}" for n, _ in SIZES])
@pytest.mark.parametrize("window", [1, 2, 5, 20, 200])
def test_sma_equals_naive_mean(n: int, seed: int, window: int) -> None:
    bars = random_bars(n, seed)
    cache = FeatureCache(bars)
    assert_same(cache.sma(window), naive_sma(bars.close.tolist(), window), rel=1e-11)
    assert_same(cache.sma(window, "volume"), naive_sma(bars.volume.tolist(), window), rel=1e-9)


def test_sma_stays_accurate_across_many_resums() -> None:
    """A drifting series (large level, small moves) over 5 re-sum blocks keeps ~1e-12 accuracy."""
    rng = np.random.default_rng(7)
    n = 5 * 4096 + 123
    close = 1e6 + np.cumsum(rng.normal(0, 1, n))
    ones = np.ones(n)
    bars = Bars(np.arange(n, dtype=np.int64), close, close + 1, close - 1, close, ones)
    for window in (3, 4096, 4097):
        assert_same(FeatureCache(bars).sma(window), naive_sma(close.tolist(), window), rel=1e-12)


@pytest.mark.parametrize(("n", "seed"), SIZES, ids=[f"n{n}" for n, _ in SIZES])
@pytest.mark.parametrize("window", [1, 3, 20, 200])
def test_rolling_max_min_equal_naive(n: int, seed: int, window: int) -> None:
    bars = random_bars(n, seed)
    cache = FeatureCache(bars)
    assert_same(cache.rolling_max(window), naive_rolling(bars.high.tolist(), window, max), rel=0)
    assert_same(cache.rolling_min(window), naive_rolling(bars.low.tolist(), window, min), rel=0)
    assert_same(cache.rolling_max(window, "close"), naive_rolling(bars.close.tolist(), window, max), rel=0)
    assert_same(cache.rolling_min(window, "close"), naive_rolling(bars.close.tolist(), window, min), rel=0)


def test_rolling_max_min_with_ties_and_monotone_runs() -> None:
    x = [3.0, 3.0, 1.0, 2.0, 2.0, 5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 6.0]
    arr = np.array(x)
    bars = Bars(np.arange(len(x), dtype=np.int64), arr, arr, arr, arr, arr)
    cache = FeatureCache(bars)
    for window in (1, 2, 3, 4, 12, 13):
        assert_same(cache.rolling_max(window, "close"), naive_rolling(x, window, max), rel=0)
        assert_same(cache.rolling_min(window, "close"), naive_rolling(x, window, min), rel=0)


@pytest.mark.parametrize(("n", "seed"), SIZES, ids=[f"n{n}" for n, _ in SIZES])
@pytest.mark.parametrize("window", [1, 2, 14, 100])
def test_rsi_equals_naive_wilder(n: int, seed: int, window: int) -> None:
    bars = random_bars(n, seed)
    assert_same(FeatureCache(bars).rsi(window), naive_rsi(bars.close.tolist(), window), rel=1e-9)


def test_rsi_by_hand() -> None:
    """window 2 on closes 10, 11, 10.5, 12, 12: changes +1, -0.5, +1.5, 0."""
    close = np.array([10.0, 11.0, 10.5, 12.0, 12.0])
    bars = Bars(np.arange(5, dtype=np.int64), close, close, close, close, close)
    rsi = FeatureCache(bars).rsi(2)
    # index 2: gain = (1 + 0) / 2 = 0.5, loss = (0 + 0.5) / 2 = 0.25, RS = 2 → 100 - 100 / 3
    # index 3: gain = (0.5 * 1 + 1.5) / 2 = 1.0, loss = (0.25 * 1 + 0) / 2 = 0.125, RS = 8 → 100 - 100 / 9
    # index 4: gain = (1.0 + 0) / 2 = 0.5, loss = 0.125 / 2 = 0.0625, RS = 8 → 100 - 100 / 9
    expected = [math.nan, math.nan, 100 - 100 / 3, 100 - 100 / 9, 100 - 100 / 9]
    assert_same(rsi, expected, rel=1e-12)


def test_rsi_is_100_without_losses() -> None:
    close = np.arange(1.0, 8.0)
    bars = Bars(np.arange(7, dtype=np.int64), close, close, close, close, close)
    assert FeatureCache(bars).rsi(3).tolist()[3:] == [100.0] * 4


def test_window_longer_than_the_data_is_all_nan() -> None:
    bars = random_bars(5, 0)
    cache = FeatureCache(bars)
    for values in (cache.sma(6), cache.rolling_max(6), cache.rolling_min(6), cache.rsi(5), cache.rsi(6)):
        assert len(values) == 5 and np.isnan(values).all()


def test_cache_computes_each_key_once() -> None:
    cache = FeatureCache(random_bars(50, 1))
    first = cache.sma(10)
    assert (cache.misses, cache.hits) == (1, 0)
    again = cache.sma(10)
    assert again is first
    assert (cache.misses, cache.hits) == (1, 1)
    cache.sma(10, "close")  # the default field spelled out is the same key
    assert (cache.misses, cache.hits) == (1, 2)
    cache.sma(11)
    cache.sma(10, "open")
    cache.rolling_max(10)
    cache.rolling_min(10)
    cache.rsi(10)
    assert (cache.misses, cache.hits) == (6, 2)
    cache.rsi(10)
    cache.rolling_min(10)
    assert (cache.misses, cache.hits) == (6, 4)


def test_bounded_cache_drops_the_least_recently_used_array() -> None:
    cache = FeatureCache(random_bars(50, 4), max_arrays=2)
    a = cache.sma(3)
    cache.sma(5)
    assert cache.held() == (("sma", "close", 3), ("sma", "close", 5))
    cache.sma(3)  # a hit makes it the most recent
    assert cache.held() == (("sma", "close", 5), ("sma", "close", 3))
    cache.sma(7)  # full: the least recently used (5) goes, not the oldest inserted (3)
    assert cache.held() == (("sma", "close", 3), ("sma", "close", 7))
    assert (cache.misses, cache.hits, cache.evictions) == (3, 1, 1)
    assert cache.sma(3) is a
    again = cache.sma(5)  # computed again: the same values
    assert cache.evictions == 2 and cache.held() == (("sma", "close", 3), ("sma", "close", 5))
    assert np.array_equal(again, FeatureCache(cache.bars).sma(5), equal_nan=True)


def test_unbounded_cache_keeps_every_array() -> None:
    cache = FeatureCache(random_bars(50, 5))
    for window in range(2, 20):
        cache.sma(window)
    assert len(cache.held()) == 18 and cache.evictions == 0
    with pytest.raises(ValueError, match="max_arrays"):
        FeatureCache(cache.bars, max_arrays=0)


def test_get_calls_compute_only_on_a_miss() -> None:
    cache = FeatureCache(random_bars(5, 2))
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(5.0)

    a = cache.get(("custom", 1), compute)
    b = cache.get(("custom", 1), compute)
    assert a is b and len(calls) == 1


def test_returned_arrays_are_read_only() -> None:
    cache = FeatureCache(random_bars(30, 3))
    for values in (cache.sma(5), cache.rolling_max(5), cache.rolling_min(5), cache.rsi(5)):
        assert not values.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            values[-1] = 0.0


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown bars field 'ts'"):
        FeatureCache(random_bars(5, 0)).sma(2, "ts")


class SmaAboveClose(Strategy):
    class Params(StrategyParams):
        window: int = 3

    def target(self, bars: Bars, features: FeatureCache) -> np.ndarray:
        sma = features.sma(self.params.window)  # type: ignore[attr-defined]
        return np.where(bars.close > sma, 1.0, 0.0)


def test_run_backtest_rejects_a_cache_of_other_bars() -> None:
    bars = random_bars(20, 4)
    other = random_bars(20, 4)  # equal values, but not the same Bars object
    strategy = SmaAboveClose(SmaAboveClose.Params())
    with pytest.raises(ValueError, match="bound to other bars"):
        run_backtest(bars, strategy, ExecutionSpec(), 60, features=FeatureCache(other))


def test_run_backtest_shares_one_cache_between_runs() -> None:
    bars = random_bars(40, 5)
    cache = FeatureCache(bars)
    strategy = SmaAboveClose(SmaAboveClose.Params())
    first = run_backtest(bars, strategy, ExecutionSpec(), 60, features=cache)
    second = run_backtest(bars, strategy, ExecutionSpec(fee_bps=0), 60, features=cache)
    assert (cache.misses, cache.hits) == (1, 1)
    assert first.metrics["n_trades"] == second.metrics["n_trades"]
