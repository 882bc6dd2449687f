"""The experiment steps that touch data and strategies: plan inputs, and run-shard end to end."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trading_framework import Bars, FeatureCache, Strategy, compute_metrics, simulate
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.config.loading import render_validation_error
from trading_runtime.data import LoadedBars
from trading_runtime.errors import InputError, TransientError
from trading_runtime.execution.backtest import data_ref, execution_spec
from trading_runtime.execution.data_source import load_data, resolve_timeframe
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.shard import evaluate_shard, write_shard
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES, load_strategy_class, strategy_target
from trading_runtime.execution.universe import (
    check_universe_pin,
    instrument_data,
    instrument_refs,
    load_universe,
    resolve_universe,
    universe_data_ref,
)
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import DataRef, Plan, PlanData, plan_experiment
from trading_runtime.store import ArtifactStore

log = logging.getLogger(__name__)
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "value_error",
                 "assertion_error", "literal_error"}


@dataclass(frozen=True)
class ExperimentInputs:
    """The config, its strategy class and its bars: ``data`` for one instrument, ``instruments`` (symbol →
    bars, only those a step needs) for a universe, whose ``data`` is then None."""

    config: ExperimentConfig
    source: str
    data: LoadedBars | None
    strategy_cls: type[Strategy]
    instruments: Mapping[str, LoadedBars] | None = None
    paths: Mapping[str, str] | None = None  # a universe's: where each instrument was read from (config or plan)

    def data_ref(self) -> DataRef:
        if self.instruments is not None:
            assert self.paths is not None
            return universe_data_ref(self.config.data, self.instruments, self.paths)
        return data_ref(self.config.data, self.one())

    def one(self) -> LoadedBars:
        """The bars of a single-instrument experiment (a universe has no one bars file)."""
        if self.data is None:
            raise InputError(f"{self.source}: data: a universe of instruments where one instrument is expected "
                             "(Optuna studies and compare take one instrument)")
        return self.data

    def bars(self) -> Bars | Mapping[str, Bars]:
        """What a shard evaluates on: the bars, or a universe's bars by symbol."""
        if self.instruments is not None:
            return {s: loaded.bars for s, loaded in self.instruments.items()}
        return self.one().bars


def load_inputs(config: ExperimentConfig, source: str, base_dir: Path,
                allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES, sha256: str | None = None,
                pinned_by: str = "data.sha256", validated_sha256: str | None = None) -> ExperimentInputs:
    """The strategy class and the data (``sha256`` pins the data when the config does not;
    ``validated_sha256``: see ``load_data``)."""
    cls = load_strategy_class(config.strategy.class_path, source, allowed_prefixes)
    if config.data.is_universe:
        members = resolve_universe(config.data, base_dir, source)
        data_config, instruments = load_universe(config.data, members, base_dir)
        check_universe_pin(config.data, {s: one.sha256 for s, one in instruments.items()}, source)
        return ExperimentInputs(config.model_copy(update={"data": data_config}), source, None, cls, instruments,
                                {m.symbol: m.data.path for m in members})
    data = load_data(config.data, base_dir, sha256, pinned_by, validated_sha256=validated_sha256)
    config = config.model_copy(update={"data": resolve_timeframe(config.data, data)})
    return ExperimentInputs(config, source, data, cls)


def params_check(cls: type[Strategy], source: str) -> Callable[[dict[str, Any]], str | None]:
    """None when the strategy accepts the params; the reason when its bounds or rules drop them.

    Unknown names and wrong types are config errors (exit 2), not dropped combinations.
    """
    def check(params: dict[str, Any]) -> str | None:
        try:
            cls.Params.model_validate(params)
            return None
        except ValidationError as e:
            errors = e.errors(include_url=False)
            if all(err["type"] in _BOUND_ERRORS for err in errors):
                return "; ".join(_reason(err) for err in errors)
            raise InputError(*render_validation_error(e, source, cls.Params, prefix="sweep.params")) from None
    return check


def _reason(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {msg} (got {err['input']})" if loc else msg


def universe_plan_data(inputs: ExperimentInputs) -> list[PlanData] | None:
    """A universe's instruments as planning sees them (sorted by symbol); None for one instrument."""
    if inputs.instruments is None:
        return None
    assert inputs.paths is not None
    refs = instrument_refs(inputs.config.data, inputs.instruments, inputs.paths)
    return [PlanData(ref, inputs.instruments[s].bars.ts, s) for s, ref in refs.items()]


def build_plan(inputs: ExperimentInputs) -> Plan:
    cfg = inputs.config
    cls = inputs.strategy_cls
    universe = universe_plan_data(inputs)
    ts = inputs.one().bars.ts if universe is None else universe[0].ts
    return plan_experiment(
        cfg, inputs.source, inputs.data_ref(), ts, cfg.data.timeframe_seconds, params_check(cls, inputs.source),
        lambda p: cls(cls.Params.model_validate(p)).warmup_bars(), universe,
    )


def inputs_for_plan(plan: Plan, base_dir: Path, allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
                    data: LoadedBars | None = None, shard_id: str | None = None,
                    instruments: Mapping[str, LoadedBars] | None = None,
                    symbols: Collection[str] | None = None) -> ExperimentInputs:
    """Rebuild the inputs a plan was made from, and check the data is the one planned. A universe's
    instruments: only those of shard ``shard_id`` when given (a shard loads what it needs), or only
    ``symbols`` (finalize: those whose curves it derives), else all; ``instruments`` already loaded are
    reused (checked against the plan all the same)."""
    source = f"plan {plan.experiment_id}"
    config = plan.config
    if plan.instruments is not None:
        return universe_inputs_for_plan(plan, base_dir, allowed_prefixes, shard_id, instruments, symbols)
    if data is None:  # pinned to the planned bytes: a verified cached copy is used without a download
        # The plan was made from bytes with this sha256, read and validated with this config's options (no
        # plan without that): bytes that hash to it pass the bar rules again, so they are not re-run (the
        # sha256 check stays: other bytes are refused, exit 2, before anything is evaluated).
        inputs = load_inputs(config, source, base_dir, allowed_prefixes, plan.data.sha256,
                             f"the plan's data sha256 (experiment {plan.experiment_id})",
                             validated_sha256=plan.data.sha256)
    else:
        inputs = ExperimentInputs(config, source, data,
                                  load_strategy_class(config.strategy.class_path, source, allowed_prefixes))
    check_planned(config.data.path, inputs.one(), plan.data)
    return inputs


def check_planned(name: str, loaded: LoadedBars, planned: DataRef) -> None:
    """InputError when the bars loaded are not the ones planned (other bytes, or another row count)."""
    if loaded.sha256 != planned.sha256 or len(loaded.bars) != planned.n_bars:
        raise InputError(f"{name}: data changed since planning: sha256 {loaded.sha256[:12]}, "
                         f"{len(loaded.bars)} bars (plan: {planned.sha256[:12]}, {planned.n_bars} bars)")


def universe_inputs_for_plan(plan: Plan, base_dir: Path, allowed_prefixes: Sequence[str], shard_id: str | None,
                             reuse: Mapping[str, LoadedBars] | None = None,
                             symbols: Collection[str] | None = None) -> ExperimentInputs:
    """A universe plan's inputs: the instruments of shard ``shard_id`` (or ``symbols``; all when both are
    None), each pinned to its planned sha256 and checked against its planned bar count."""
    assert plan.instruments is not None
    source = f"plan {plan.experiment_id}"
    config = plan.config
    spec = plan.shard(shard_id) if shard_id is not None else None
    wanted = set(plan.instrument_symbols(spec.run_ids)) if spec is not None else \
        (set(symbols) if symbols is not None else None)
    instruments: dict[str, LoadedBars] = {}
    for ref in plan.instruments:
        if wanted is not None and ref.symbol not in wanted:
            continue
        one = instrument_data(config.data, ref.symbol, ref.data.path)
        loaded = reuse[ref.symbol] if reuse is not None and ref.symbol in reuse else load_data(
            one, base_dir, ref.data.sha256, f"the plan's data sha256 of {ref.symbol} (experiment {plan.experiment_id})",
            validated_sha256=ref.data.sha256)  # validated by the plan (see inputs_for_plan)
        check_planned(f"{ref.data.path} ({ref.symbol})", loaded, ref.data)
        instruments[ref.symbol] = loaded
    cls = load_strategy_class(config.strategy.class_path, source, allowed_prefixes)
    data_config = config.data.model_copy(update={"timeframe": plan.data.timeframe})
    return ExperimentInputs(config.model_copy(update={"data": data_config}), source, None, cls, instruments,
                            {ref.symbol: ref.data.path for ref in plan.instruments if ref.symbol in instruments})


def run_shard(store: ArtifactStore, plan: Plan, shard_id: str, inputs: ExperimentInputs,
              progress: Callable[[int], None] | None = None) -> int:
    """Evaluate and write one shard; on failure record failed.json (except transient store errors)."""
    keys = plan.keys
    spec_ = plan.shard(shard_id)
    if spec_ is None:
        ids = [s.shard_id for s in plan.shards]
        raise InputError(f"experiment '{plan.experiment_id}': no shard '{shard_id}' "
                         f"(expected one of {ids[0]} .. {ids[-1]})")
    cfg = inputs.config
    try:
        out = evaluate_shard(plan, shard_id, cfg, inputs.bars(), inputs.strategy_cls, execution_spec(cfg),
                             cfg.data.timeframe_seconds, progress)
        write_shard(store, keys, shard_id, out)
    except TransientError:
        raise
    except Exception as e:
        detail = e.lines[0] if isinstance(e, InputError) and e.lines else f"{type(e).__name__}: {e}"
        doc = {"shard_id": shard_id, "error": detail, "traceback": traceback.format_exc(limit=20)}
        try:
            store.put_bytes(keys.shard_failure(shard_id), canonical_bytes(doc))
        except Exception:  # the original error matters more
            log.warning("could not record the failure of %s", shard_id)
        raise
    return len(spec_.run_ids)


def warm_kernels(plan: Plan, inputs: ExperimentInputs) -> None:
    """Load the compiled kernels the shards use into this process (from numba's on-disk cache).

    Called before forking workers: each worker then inherits them instead of loading them itself
    (≈0.4 s per worker, measured). Runs the plan's first parameter set on a few hundred bars.
    """
    if not plan.runs:
        return
    start_numba()
    cls = inputs.strategy_cls
    bars = inputs.one().bars if inputs.instruments is None else next(iter(inputs.instruments.values())).bars
    window = bars.slice(0, min(len(bars), plan.warmup_bars + 64))
    strategy = cls(cls.Params.model_validate(plan.runs[0].params))
    target = strategy_target(strategy, window, FeatureCache(window))
    cfg = inputs.config
    compute_metrics(simulate(window, target, execution_spec(cfg)), cfg.data.annualisation)
