"""plan_experiment: config + data index → the plan every shard worker and the finalizer read.

Pure and deterministic: no I/O, no clock, no randomness. The experiment id hashes what decides
the results (the config without ``shards``, ``store``, ``output`` and ``description``, and the data's
sha256), so how work is split is not part of a result's identity.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from trading_runtime.config.backtest import timeframe_bars_per_year
from trading_runtime.config.experiment import ExperimentConfig, GridSweep
from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.validation import scheme_for
from trading_runtime.planning.windows import Fold

PLAN_SCHEMA_VERSION = 1
DROPPED_EXAMPLES = 20

# A params dict → None when the strategy accepts it, else the reason it is dropped.
ParamsCheck = Callable[[dict[str, Any]], str | None]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannedRun(_Frozen):
    run_id: str
    fold: str
    params: dict[str, Any]


class ShardSpec(_Frozen):
    shard_id: str
    run_ids: list[str]


class Sharding(_Frozen):
    """How runs were split: ``runs_per_shard`` as used, the config's request and its ``max_shards``."""

    runs_per_shard: int
    requested_runs_per_shard: int
    max_shards: int
    grown: bool  # runs per shard were raised so that the plan keeps to max_shards

    def describe(self) -> str:
        if not self.grown:
            return f"{self.runs_per_shard} runs per shard"
        return (f"{self.runs_per_shard} runs per shard, grown from {self.requested_runs_per_shard} to keep to "
                f"shards.max_shards {self.max_shards}")


def shard_runs(run_ids: list[str], runs_per_shard: int, max_shards: int) -> tuple[list[ShardSpec], Sharding]:
    """Consecutive runs per shard; when ``runs_per_shard`` would give more than ``max_shards`` shards, the
    smallest runs per shard that fits is used instead (the results do not depend on it)."""
    per = runs_per_shard
    if math.ceil(len(run_ids) / per) > max_shards:
        per = math.ceil(len(run_ids) / max_shards)
    n_shards = math.ceil(len(run_ids) / per)
    width = max(5, len(str(n_shards - 1)))
    shards = [ShardSpec(shard_id=f"shard-{i:0{width}d}", run_ids=run_ids[i * per:(i + 1) * per])
              for i in range(n_shards)]
    return shards, Sharding(runs_per_shard=per, requested_runs_per_shard=runs_per_shard, max_shards=max_shards,
                            grown=per != runs_per_shard)


def describe_dropped(dropped: Mapping[str, int]) -> str:
    """The rows ``data.on_invalid="drop"`` removed, in words, for stderr and the reports: ``dropped 3 invalid
    row(s) (data.on_invalid=drop): 1 duplicate timestamp, 1 non positive price, 1 ohlc inconsistent``."""
    counts = ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in sorted(dropped.items()))
    return f"dropped {sum(dropped.values())} invalid row(s) (data.on_invalid=drop): {counts}"


class DataRef(_Frozen):
    """The data a plan was made from. ``path`` (local path or store URI) is provenance: result documents
    (summary.json, Optuna results) carry the other fields only, so the same bytes give the same results
    wherever they were read from."""

    path: str
    sha256: str
    n_bars: int
    first_ts: int
    last_ts: int
    timeframe: str
    dropped: dict[str, int] = Field(default_factory=dict)
    """Rows dropped per rule with ``data.on_invalid="drop"``; left out of the JSON when none were."""
    bars_per_year: float | None = None
    """``data.bars_per_year`` when the config set it (annualisation); left out of the JSON when not."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if not dumped.get("dropped"):
            dumped.pop("dropped", None)
        if dumped.get("bars_per_year") is None:
            dumped.pop("bars_per_year", None)
        return dumped

    @property
    def annualisation(self) -> float:
        """Bars per year Sharpe and Sortino were annualised with (CAGR takes calendar time)."""
        return timeframe_bars_per_year(self.timeframe, self.bars_per_year)


class InstrumentRef(_Frozen):
    """One instrument of a universe: its symbol and the data it was planned from."""

    symbol: str
    data: DataRef


class Plan(_Frozen):
    schema_version: int
    experiment_id: str
    config: ExperimentConfig  # parsed once, where the plan leaves the store
    config_sha256: str
    data: DataRef
    warmup_bars: int
    grid: dict[str, Any]
    folds: list[Fold]
    runs: list[PlannedRun]
    split: str
    shards: list[ShardSpec]
    estimates: dict[str, int]
    sharding: Sharding | None = None
    instruments: list[InstrumentRef] | None = None
    """A universe's instruments (sorted by symbol); ``data`` then describes the whole universe (its sha256 is
    the universe's identity). Left out of the JSON for one instrument."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if dumped.get("instruments") is None:
            dumped.pop("instruments", None)
        return dumped

    def instrument_symbols(self, run_ids: list[str]) -> list[str]:
        """The instruments these runs need (sorted): what a shard of a universe loads."""
        folds = self.fold_index()
        runs = self.run_index()
        return sorted({s for s in (folds[runs[r].fold].instrument for r in run_ids) if s is not None})

    @property
    def keys(self) -> ExperimentKeys:
        return ExperimentKeys(self.experiment_id, self.split)

    def run_index(self) -> dict[str, PlannedRun]:
        return {r.run_id: r for r in self.runs}

    def fold_index(self) -> dict[str, Fold]:
        return {f.id: f for f in self.folds}

    def shard(self, shard_id: str) -> ShardSpec | None:
        return next((s for s in self.shards if s.shard_id == shard_id), None)


def identity_document(config: ExperimentConfig) -> dict[str, Any]:
    """The part of the config that decides results: not how work is split or where things are stored, nor
    where the data was read from (``data.path``, ``data.sha256``, ``data.instruments``: the data's sha256, a
    universe's identity, is hashed beside it)."""
    doc = config.model_dump(mode="json")
    for key in ("shards", "store", "output", "description"):
        doc.pop(key, None)
    doc["data"] = {k: v for k, v in doc["data"].items() if k not in ("path", "sha256", "instruments")}
    return doc


def experiment_id(config: ExperimentConfig, data_sha256: str) -> str:
    digest = sha256_hex(canonical_bytes({"config": identity_document(config), "data_sha256": data_sha256}))
    return f"{config.id}-{digest[:12]}"


def run_id(fold_id: str, params: Mapping[str, Any]) -> str:
    return "run-" + sha256_hex(canonical_bytes({"fold": fold_id, "params": dict(params)}))[:16]


def plan_folds(config: ExperimentConfig, ts: npt.NDArray[np.int64], warmup: int, bar_seconds: int,
               source: str) -> list[Fold]:
    n = len(ts)
    v = config.validation
    if warmup >= n:
        raise InputError(f"{source}: warmup_bars: {warmup} warm-up bars leave nothing to score "
                         f"(the data has {n} bars)")
    return scheme_for(v.kind).windows(v, ts, warmup, bar_seconds, source)


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _reason_rule(reason: str) -> str:
    return _NUMBER.sub("N", reason)


def grid_combinations(base: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The grid's parameter sets in planning order: ``base`` overridden by each combination of the grid's values
    (the last name varying fastest)."""
    names = list(grid)
    for combo in itertools.product(*(grid[name] for name in names)):
        yield {**base, **dict(zip(names, combo, strict=True))}


def expand_grid(config: ExperimentConfig, check: ParamsCheck,
                source: str = "config") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Valid parameter combinations (base params overridden by the grid), and what was dropped and why."""
    if not isinstance(config.sweep, GridSweep):
        raise InputError(f"{source}: sweep.kind: '{config.sweep.kind}' searches run with 'trading-runtime optimize'; "
                         "plan and sweep take kind 'grid'")
    grid = config.sweep.expanded()
    names = list(grid)
    valid: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    rules: dict[str, int] = {}
    total = 0
    for params in grid_combinations(config.strategy.params, grid):
        total += 1
        reason = check(params)
        if reason is None:
            valid.append(params)
        else:
            rule = _reason_rule(reason)
            rules[rule] = rules.get(rule, 0) + 1
            if len(dropped) < DROPPED_EXAMPLES:
                dropped.append({"params": params, "reason": reason})
    summary = {
        "names": names,
        "values": grid,
        "n_combinations": total,
        "n_valid": len(valid),
        "n_dropped": total - len(valid),
        "dropped_by_rule": dict(sorted(rules.items())),
        "dropped_examples": dropped,
    }
    return valid, summary


def universe_folds(config: ExperimentConfig, universe: list[PlanData], warmup: int, bar_seconds: int,
                   source: str) -> list[Fold]:
    """Every instrument's folds, cut from its own bars, in symbol order: ids ``<symbol>.<fold>``."""
    return [f.model_copy(update={"id": f"{one.symbol}.{f.id}", "instrument": one.symbol})
            for one in universe
            for f in plan_folds(config, one.ts, warmup, bar_seconds, f"{source} ({one.symbol})")]


@dataclass(frozen=True)
class PlanData:
    """One instrument's bars as planning sees them: what the plan records and the bar times folds are cut from."""

    ref: DataRef
    ts: npt.NDArray[np.int64]
    symbol: str | None = None  # set for the instruments of a universe


def plan_experiment(
    config: ExperimentConfig,
    source: str,
    data: DataRef,
    ts: npt.NDArray[np.int64],
    bar_seconds: int,
    check: ParamsCheck,
    warmup_of: Callable[[dict[str, Any]], int],
    universe: list[PlanData] | None = None,
) -> Plan:
    """The whole plan. ``check`` validates a params dict with the strategy; ``warmup_of`` its warm-up bars.

    With ``universe`` (its instruments, sorted by symbol; ``data`` then describes the whole universe) the
    instrument is a plan dimension: each instrument's folds are cut from its own bars, with ids
    ``<symbol>.<fold>``, and a run is instrument × fold × parameter set (its id hashes the fold id, so the
    instrument too)."""
    combos, grid = expand_grid(config, check, source)
    if not combos:
        raise InputError(f"{source}: sweep.params: every one of the {grid['n_combinations']} combinations is "
                         f"rejected by the strategy (e.g. {grid['dropped_examples'][0]['reason']})")
    # auto: the largest declared warm-up, plus one bar: the last warm-up close decides the position held
    # at the first scored open, so that decision must be warm too (then a window's run equals the same
    # bars of an unsegmented run).
    warmup = (max(warmup_of(p) for p in combos) + 1 if config.warmup_bars == "auto" else int(config.warmup_bars))
    folds = (plan_folds(config, ts, warmup, bar_seconds, source) if universe is None
             else universe_folds(config, universe, warmup, bar_seconds, source))
    runs = [PlannedRun(run_id=run_id(f.id, p), fold=f.id, params=p) for f in folds for p in combos]
    shards, sharding = shard_runs([r.run_id for r in runs], config.shards.runs_per_shard, config.shards.max_shards)
    bars_to_process = 0
    for f in folds:
        for seg in (f.in_sample, f.out_of_sample):
            if seg is not None:
                bars_to_process += (seg.stop - seg.warmup_start) * len(combos)
    span = max(((f.out_of_sample or f.in_sample).stop - f.in_sample.warmup_start) for f in folds)
    features = sum(len(v) for v in grid["values"].values())
    largest = data.n_bars if universe is None else max(one.ref.n_bars for one in universe)
    estimates = {
        "bars_to_process": bars_to_process,
        # data (6 columns) + per run: target, equity, position, trades (~8 columns) + cached features
        "peak_memory_bytes_per_shard": 150 * 2**20 + largest * 48 + span * 8 * (12 + features),
    }
    doc = config.model_dump(mode="json")
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION,
        experiment_id=experiment_id(config, data.sha256),
        config=doc,
        config_sha256=sha256_hex(canonical_bytes(doc)),
        data=data,
        warmup_bars=warmup,
        grid=grid,
        folds=folds,
        runs=runs,
        split=f"rps-{sharding.runs_per_shard}",
        shards=shards,
        estimates=estimates,
        sharding=sharding,
        instruments=None if universe is None else [
            InstrumentRef(symbol=one.symbol or "", data=one.ref) for one in universe],
    )
