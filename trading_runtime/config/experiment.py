"""The experiment config: a backtest config plus a sweep, validation windows, sharding, store, objective."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from trading_runtime.config.backtest import BacktestConfig
from trading_runtime.config.base import StrictConfig

DEFAULT_STORE = ".runtime/experiments"
_DURATION = re.compile(r"^([1-9][0-9]*)([mhdw])$")
_DURATION_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# Longest duration accepted (walk-forward train/test/step): 100 years of 365 days, in seconds.
MAX_DURATION_SECONDS = 100 * 365 * 86400


def duration_seconds(text: str) -> int:
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"duration {text!r}: expected a number and a unit m, h, d or w (e.g. 30d)")
    seconds = int(m.group(1)) * _DURATION_SECONDS[m.group(2)]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"duration {text!r}: expected more than 0 and at most 100 years (e.g. 30d)")
    return seconds


Scalar = int | float | str | bool


class RangeSpec(StrictConfig):
    """``start`` to ``stop`` inclusive by ``step``, expanded with exact decimal arithmetic."""

    start: int | float
    stop: int | float
    step: int | float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) must be >= start ({self.start})")
        n = (Decimal(str(self.stop)) - Decimal(str(self.start))) / Decimal(str(self.step))
        if n > 1_000_000:
            raise ValueError(f"range expands to more than 1,000,000 values (start {self.start}, stop {self.stop}, "
                             f"step {self.step})")
        return self

    def values(self) -> list[int | float]:
        start, stop, step = (Decimal(str(v)) for v in (self.start, self.stop, self.step))
        integral = all(isinstance(v, int) for v in (self.start, self.stop, self.step))
        out: list[int | float] = []
        x = start
        while x <= stop:
            out.append(int(x) if integral else float(x))
            x += step
        return out


class GridSweep(StrictConfig):
    kind: Literal["grid"]
    params: dict[str, Annotated[list[Scalar], Field(min_length=1)] | RangeSpec] = Field(min_length=1)

    def expanded(self) -> dict[str, list[Scalar]]:
        """Values per parameter name (sorted by name), duplicates removed keeping first occurrence."""
        out: dict[str, list[Scalar]] = {}
        for name in sorted(self.params):
            spec = self.params[name]
            values = spec.values() if isinstance(spec, RangeSpec) else list(spec)
            seen: list[Scalar] = []
            for v in values:
                if not any(type(v) is type(s) and v == s for s in seen):
                    seen.append(v)
            out[name] = seen
        return out


class ConstraintsConfig(StrictConfig):
    min_trades: int | None = Field(None, ge=0, description="in-sample n_trades below this is excluded")
    max_drawdown: float | None = Field(None, gt=0, le=1, description="in-sample max_drawdown above this is excluded")


OBJECTIVE_METRICS = (
    "final_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration_bars",
    "calmar", "n_trades", "win_rate", "profit_factor", "exposure", "turnover", "fees_paid",
)
ObjectiveMetric = Literal[
    "final_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration_bars",
    "calmar", "n_trades", "win_rate", "profit_factor", "exposure", "turnover", "fees_paid",
]


class IntParam(StrictConfig):
    type: Literal["int"]
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> IntParam:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError(f"log needs low >= 1 (got {self.low}) and step 1 (got {self.step})")
        return self


class FloatParam(StrictConfig):
    type: Literal["float"]
    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)
    step: float | None = Field(None, gt=0, allow_inf_nan=False)
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> FloatParam:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError(f"log needs low > 0 (got {self.low}) and no step (got {self.step})")
        return self


class CategoricalParam(StrictConfig):
    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1)


SearchParam = Annotated[IntParam | FloatParam | CategoricalParam, Field(discriminator="type")]


class SamplerConfig(StrictConfig):
    name: Literal["tpe", "random", "qmc", "cmaes", "nsga2"] = "tpe"
    seed: int = Field(ge=0, le=2**32 - 1, description="the sampler's seed (per generation: derived with sha256)")


class ObjectiveSpec(StrictConfig):
    metric: ObjectiveMetric = "sharpe"
    direction: Literal["maximize", "minimize"] = "maximize"


class OptunaSweep(StrictConfig):
    """Model-based search in deterministic generations of ``batch_size`` trials."""

    kind: Literal["optuna"]
    space: dict[str, SearchParam] | None = Field(
        None, description="null: taken from the strategy's declared parameter bounds")
    sampler: SamplerConfig
    n_trials: int = Field(ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=100_000)
    objectives: list[ObjectiveSpec] = Field(default_factory=lambda: [ObjectiveSpec()], min_length=1, max_length=8)
    constraints: ConstraintsConfig = ConstraintsConfig()


Sweep = Annotated[GridSweep | OptunaSweep, Field(discriminator="kind")]


class FullValidation(StrictConfig):
    kind: Literal["full"]


class HoldoutValidation(StrictConfig):
    kind: Literal["holdout"]
    test_fraction: float | None = Field(None, gt=0, lt=1, description="last fraction of the bars held out")
    test_start: str | None = Field(None, description="first out-of-sample bar (ISO 8601 UTC)")

    @model_validator(mode="after")
    def _one_of(self) -> HoldoutValidation:
        if (self.test_fraction is None) == (self.test_start is None):
            raise ValueError(f"set exactly one of test_fraction ({self.test_fraction}) and test_start "
                             f"({self.test_start})")
        return self


class WalkForwardValidation(StrictConfig):
    kind: Literal["walk_forward"]
    train: str = Field(description="in-sample length, e.g. 30d")
    test: str = Field(description="out-of-sample length, e.g. 7d")
    step: str | None = Field(None, description="shift between folds (default: test)")
    anchored: bool = Field(False, description="every fold's in-sample starts at the first bar")

    @field_validator("train", "test", "step")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            duration_seconds(v)
        return v


Validation = Annotated[FullValidation | HoldoutValidation | WalkForwardValidation, Field(discriminator="kind")]


DEFAULT_MAX_SHARDS = 1000
"""Shards per plan at most: Argo keeps every node's status in the Workflow object (etcd, 1.5 MB by
default) and a shard with a retryStrategy adds two nodes; past this runs per shard grow instead."""


class ShardsConfig(StrictConfig):
    runs_per_shard: int = Field(50, ge=1, le=1_000_000, description="runs evaluated by one run-shard")
    max_shards: int = Field(DEFAULT_MAX_SHARDS, ge=1, le=100_000,
                            description="shards per plan at most (one Argo workflow); runs per shard grow to fit")


Aggregate = Literal["mean", "median", "min", "share_positive"]


class ObjectiveConfig(StrictConfig):
    metric: ObjectiveMetric = "sharpe"
    direction: Literal["maximize", "minimize"] = "maximize"
    constraints: ConstraintsConfig = ConstraintsConfig()
    aggregate: Aggregate = Field(
        "mean", description="over a universe (data.instruments): how a parameter set's objective on each instrument "
                            "makes its rank: mean, median, min (the worst instrument in the objective's direction) "
                            "or share_positive (share of instruments with objective > 0; ties by the mean)")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``aggregate`` is left out at its default: configs written before it existed keep their identity."""
        dumped: dict[str, Any] = handler(self)
        if dumped.get("aggregate") == "mean":
            dumped.pop("aggregate")
        return dumped

    def violations(self, metrics: Mapping[str, Any]) -> list[str]:
        """Why in-sample ``metrics`` break the constraints (empty when they don't)."""
        out = []
        c = self.constraints
        if c.min_trades is not None and int(metrics["n_trades"]) < c.min_trades:
            out.append(f"n_trades {metrics['n_trades']} < min_trades {c.min_trades}")
        mdd = metrics["max_drawdown"]
        if c.max_drawdown is not None and (mdd is None or mdd > c.max_drawdown):
            out.append(f"max_drawdown {mdd} > {c.max_drawdown}")
        return out

    def aggregated(self, values: Sequence[float | None]) -> float | None:
        """A parameter set's value over a universe from its value on each instrument (None: undefined there):
        ``mean``, ``median``, ``min`` (the worst in the objective's direction) need every value and are None
        otherwise; ``share_positive`` is the share of values > 0 (an undefined one is not positive)."""
        if self.aggregate == "share_positive":
            return sum(1 for v in values if v is not None and v > 0) / len(values) if values else None
        if not values or any(v is None for v in values):
            return None
        defined = [float(v) for v in values if v is not None]
        if self.aggregate == "mean":
            return statistics.fmean(defined)
        if self.aggregate == "median":
            return float(statistics.median(defined))
        return min(defined) if self.direction == "maximize" else max(defined)

    def rank_key(self, metrics: Mapping[str, Any], run_id: str) -> tuple[float, str] | None:
        """Sort key, best first: (signed objective, run id); None when the objective is undefined."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return None
        signed = -float(value) if self.direction == "maximize" else float(value)
        return (signed, run_id)


class ReportConfig(StrictConfig):
    top_k: int = Field(5, ge=1, le=1000, description="runs per window whose equity is kept and reported")


class ExperimentConfig(BacktestConfig):
    sweep: Sweep
    validation: Validation = FullValidation(kind="full")
    warmup_bars: int | Literal["auto"] = Field(
        "auto", description="bars before each window fed to the strategy, never traded or scored; "
                            "auto: the largest warm-up any swept strategy declares, plus the bar whose close "
                            "decides the position at the first scored open")
    shards: ShardsConfig = ShardsConfig()
    store: str = Field(DEFAULT_STORE, min_length=1, description="path, file://..., or s3://bucket/prefix")
    objective: ObjectiveConfig = ObjectiveConfig()
    report: ReportConfig = ReportConfig()

    @field_validator("warmup_bars")
    @classmethod
    def _warmup(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"warmup_bars must be >= 0 or \"auto\" (got {v})")
        return v

    @model_validator(mode="after")
    def _data_warmup(self) -> ExperimentConfig:
        """Replaces the backtest's rule of the same name: an experiment has its own top-level warm-up."""
        if self.data.warmup_bars:
            raise ValueError(f"data.warmup_bars ({self.data.warmup_bars}) is a backtest's: an experiment sets the "
                             "top-level warmup_bars")
        return self

    @model_validator(mode="after")
    def _unambiguous_search(self) -> ExperimentConfig:
        """A searched parameter is not also fixed in strategy.params; an Optuna space is not empty."""
        sweep = self.sweep
        if isinstance(sweep, OptunaSweep) and sweep.space is not None and not sweep.space:
            raise ValueError("sweep.space is empty: every trial would be the same run (give at least one "
                             "parameter, or null for the strategy's declared bounds)")
        searched = sweep.params if isinstance(sweep, GridSweep) else (sweep.space or {})
        where = "sweep.params" if isinstance(sweep, GridSweep) else "sweep.space"
        both = sorted(set(searched) & set(self.strategy.params))
        if both:
            name = both[0]
            raise ValueError(f"{where}.{name} is searched and also fixed in strategy.params.{name} "
                             f"(= {self.strategy.params[name]!r}): remove one of the two")
        return self
