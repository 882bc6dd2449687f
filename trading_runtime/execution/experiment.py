"""The experiment steps that touch data and strategies: plan inputs, and run-shard end to end."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trading_framework import Bars, Strategy
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.config.loading import render_validation_error
from trading_runtime.data import LoadedBars
from trading_runtime.errors import InputError, TransientError
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.data_source import data_ref
from trading_runtime.execution.experiment_data import (
    ExperimentData,
    check_planned,
    read_config_data,
    read_planned_data,
)
from trading_runtime.execution.kernel_warmup import evaluate_on_synthetic_bars
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.shard import evaluate_shard, write_shard
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES, load_strategy_class
from trading_runtime.execution.universe import (
    instrument_refs,
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
                pinned_by: str = "data.sha256", validated_sha256: str | None = None,
                read: Callable[[], ExperimentData] | None = None) -> ExperimentInputs:
    """The strategy class, then the data (``sha256`` pins the data when the config does not;
    ``validated_sha256``: see ``load_data``). ``read``: the config's data being read on a thread
    (``experiment_data.read_config_data`` started earlier), awaited once the strategy class is loaded."""
    cls = load_strategy_class(config.strategy.class_path, source, allowed_prefixes)
    got = read() if read is not None else read_config_data(config, source, base_dir, sha256, pinned_by,
                                                            validated_sha256)
    return _inputs(got, source, cls)


def _inputs(got: ExperimentData, source: str, cls: type[Strategy]) -> ExperimentInputs:
    return ExperimentInputs(got.config, source, got.data, cls, got.instruments, got.paths)


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
    """Rebuild the inputs a plan was made from, and check the data is the one planned (see
    ``experiment_data.read_planned_data``: ``shard_id``, ``symbols``; ``instruments`` already loaded are
    reused). ``data``: one instrument's bars already loaded (checked against the plan all the same)."""
    if data is not None and plan.instruments is None:
        source = f"plan {plan.experiment_id}"
        inputs = ExperimentInputs(plan.config, source, data,
                                  load_strategy_class(plan.config.strategy.class_path, source, allowed_prefixes))
        check_planned(plan.config.data.path, data, plan.data)
        return inputs
    return planned_inputs(plan, lambda: read_planned_data(plan, base_dir, shard_id, instruments, symbols),
                          allowed_prefixes)


def planned_inputs(plan: Plan, read: Callable[[], ExperimentData],
                   allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES) -> ExperimentInputs:
    """The inputs of ``plan`` from its data (``read()``: ``read_planned_data`` called now, or awaited from a
    thread that started it earlier) and its strategy class. What is wrong is reported in one order however the
    data are read: one instrument's strategy class before its data, a universe's data before its class."""
    source = f"plan {plan.experiment_id}"
    class_path = plan.config.strategy.class_path
    if plan.instruments is not None:
        got = read()
        return _inputs(got, source, load_strategy_class(class_path, source, allowed_prefixes))
    cls = load_strategy_class(class_path, source, allowed_prefixes)
    return _inputs(read(), source, cls)


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
    (≈0.4 s per worker, measured). Runs the plan's first parameter set on synthetic bars (``kernel_warmup``:
    the same kernels and argument types as the shards' runs; nothing to load when a warm-up ran already).
    """
    if not plan.runs:
        return
    start_numba()
    evaluate_on_synthetic_bars(plan.config, inputs.strategy_cls, plan.runs[0].params)
