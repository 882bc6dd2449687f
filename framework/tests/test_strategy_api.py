"""The strategy API: parameter models, their search space, and a toy strategy through run_backtest."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from pydantic import Field, ValidationError, model_validator

from trading_framework import (
    METRIC_NAMES,
    Bars,
    ExecutionSpec,
    FeatureCache,
    ParamSpace,
    Strategy,
    StrategyParams,
    bars_per_year,
    compute_metrics,
    flat_until,
    run_backtest,
    search_space,
    simulate,
)


class CrossParams(StrategyParams):
    fast: int = Field(5, ge=2, le=50)
    slow: int = Field(20, gt=2, lt=201)  # int with exclusive bounds: 3..200 inclusive
    size: float = Field(1.0, gt=0, le=2)  # float: bounds as written
    band: float = Field(0.0, ge=0.0, lt=0.5)
    kind: Literal["sma", "max"] = "sma"
    allow_exit: bool = True

    @model_validator(mode="after")
    def fast_below_slow(self) -> CrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")
        return self


class Cross(Strategy):
    """Long ``size`` while SMA(fast) > SMA(slow), flat otherwise (flat during the warm-up)."""

    Params = CrossParams

    def target(self, bars: Bars, features: FeatureCache) -> np.ndarray:
        p = self.params
        assert isinstance(p, CrossParams)
        fast, slow = features.sma(p.fast), features.sma(p.slow)
        with np.errstate(invalid="ignore"):
            signal = np.where(fast > slow * (1 + p.band), p.size, 0.0)
        return flat_until(signal, self.warmup_bars())

    def warmup_bars(self) -> int:
        assert isinstance(self.params, CrossParams)
        return self.params.slow - 1


def test_search_space_reads_bounds_types_and_choices() -> None:
    assert search_space(CrossParams) == {
        "allow_exit": ParamSpace("allow_exit", "bool", choices=(False, True)),
        "band": ParamSpace("band", "float", 0.0, 0.5),
        "fast": ParamSpace("fast", "int", 2.0, 50.0),
        "kind": ParamSpace("kind", "categorical", choices=("sma", "max")),
        "size": ParamSpace("size", "float", 0.0, 2.0),
        "slow": ParamSpace("slow", "int", 3.0, 200.0),
    }
    assert list(search_space(CrossParams)) == sorted(CrossParams.model_fields)


def test_search_space_unbounded_parameters() -> None:
    class Free(StrategyParams):
        n: int = 3
        x: float = 0.5

    assert search_space(Free) == {"n": ParamSpace("n", "int"), "x": ParamSpace("x", "float")}


def test_search_space_rejects_unsupported_types() -> None:
    class Odd(StrategyParams):
        name: str = "a"

    with pytest.raises(TypeError, match=r"Odd\.name: unsupported parameter type"):
        search_space(Odd)


def test_json_schema_carries_the_bounds() -> None:
    props = CrossParams.model_json_schema()["properties"]
    assert (props["fast"]["minimum"], props["fast"]["maximum"]) == (2, 50)
    assert (props["slow"]["exclusiveMinimum"], props["slow"]["exclusiveMaximum"]) == (2, 201)
    assert props["kind"]["enum"] == ["sma", "max"]


def test_params_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        CrossParams.model_validate({"fast": 5, "slow": 20, "sloww": 30})


def test_params_are_frozen() -> None:
    p = CrossParams()
    with pytest.raises(ValidationError, match="frozen_instance"):
        p.fast = 7  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"fast": "10"}, "int_type"),  # strict: no str → int coercion
        ({"fast": 10.0}, "int_type"),  # nor float → int
        ({"allow_exit": 1}, "bool_type"),
        ({"allow_exit": "true"}, "bool_type"),
        ({"size": "1.5"}, "float_type"),
        ({"kind": "ema"}, "literal_error"),
        ({"fast": 1}, "greater_than_equal"),
        ({"slow": 201}, "less_than"),
        ({"size": 0.0}, "greater_than"),
    ],
    ids=["str_for_int", "float_for_int", "int_for_bool", "str_for_bool", "str_for_float", "bad_choice",
         "below_ge", "at_lt", "at_gt"],
)
def test_params_are_strict_and_bounded(data: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        CrossParams.model_validate(data)


def test_params_cross_field_rule() -> None:
    with pytest.raises(ValidationError, match=r"fast \(30\) must be < slow \(20\)"):
        CrossParams(fast=30, slow=20)
    assert CrossParams(fast=3, slow=4).slow == 4
    assert CrossParams(size=1).size == 1.0  # strict still accepts an int for a float


def test_strategy_rejects_params_of_another_model() -> None:
    class Other(StrategyParams):
        fast: int = 5

    with pytest.raises(TypeError, match="Cross takes CrossParams, got Other"):
        Cross(Other())


def test_strategy_without_target_cannot_be_instantiated() -> None:
    class NoTarget(Strategy):
        Params = CrossParams

    with pytest.raises(TypeError):
        NoTarget(CrossParams())  # type: ignore[abstract]


def test_flat_until_copies_and_zeroes_the_warmup() -> None:
    values = np.array([1.0, np.nan, 2.0, 3.0])
    out = flat_until(values, 2)
    assert out.tolist() == [0.0, 0.0, 2.0, 3.0]
    assert values.tolist()[0] == 1.0  # input untouched
    assert flat_until(values, -1)[0] == 1.0


def sine_bars(n: int = 200) -> Bars:
    t = np.arange(n, dtype=np.float64)
    close = 100.0 + 10.0 * np.sin(t / 15.0) + 0.05 * t
    open_ = np.concatenate([[100.0], close[:-1]])
    return Bars(
        np.arange(n, dtype=np.int64) * 3_600_000_000_000, open_, np.maximum(open_, close) + 0.5,
        np.minimum(open_, close) - 0.5, close, np.full(n, 10.0),
    )


def test_toy_strategy_through_run_backtest() -> None:
    bars = sine_bars()
    strategy = Cross(CrossParams(fast=3, slow=12, size=0.5))
    spec = ExecutionSpec(fee_bps=2)
    result = run_backtest(bars, strategy, spec, timeframe_seconds=3600, start=strategy.warmup_bars())

    # The targets: flat during the warm-up, then 0.5 exactly when SMA(3) > SMA(12).
    close = bars.close
    sma = [np.mean(close[i - w + 1 : i + 1]) if i >= w - 1 else np.nan for i in range(len(close)) for w in (3, 12)]
    fast, slow = np.array(sma[0::2]), np.array(sma[1::2])
    want = np.where(np.arange(len(close)) < 11, 0.0, np.where(fast > slow, 0.5, 0.0))
    np.testing.assert_array_equal(result.target, want)

    # The result is the simulation of those targets and its metrics.
    sim = simulate(bars, want, spec, start=11)
    np.testing.assert_array_equal(result.equity, sim.equity)
    assert len(result.equity) == len(bars) - 11
    assert result.metrics == compute_metrics(sim, bars_per_year(3600))
    assert tuple(result.metrics) == METRIC_NAMES
    n_trades = result.metrics["n_trades"]
    assert isinstance(n_trades, int) and n_trades >= 3  # the sine crosses several times
    assert set(np.unique(result.simulation.position)) != {0.0}
    assert result.metrics["exposure"] is not None and 0 < result.metrics["exposure"] < 1


def test_run_backtest_is_deterministic() -> None:
    bars = sine_bars()
    strategy = Cross(CrossParams())
    a = run_backtest(bars, strategy, ExecutionSpec(), 3600)
    b = run_backtest(bars, strategy, ExecutionSpec(), 3600, features=FeatureCache(bars))
    np.testing.assert_array_equal(a.equity, b.equity)
    assert a.metrics == b.metrics
