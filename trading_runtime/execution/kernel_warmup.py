"""A shard's (or a sweep's) compiled kernels loaded while its data are read.

A ``run-shard`` process's start-up has two parts that barely compete for the interpreter: reading its data
(Parquet decoding, numpy copies and sha256, which release the GIL) and loading the strategy's and the
simulator's compiled kernels from numba's on-disk cache (unpickling, linking machine code: ~0.07 s), which
the first run would otherwise do. ``read_ahead.shard_inputs`` reads the data on a thread and meanwhile calls
``warm_up_quietly`` here: it evaluates the plan's first parameter set on a few hundred synthetic bars (the
same kernels, the same argument types as the shard's runs: C-contiguous float64 and int64 arrays). Nothing
it computes is kept; a failure there is left to the shard's own first run, which raises it where it belongs
(the warm-up only logs it at debug level). ``sweep`` has no plan while its data are read (the plan needs
them): ``warm_up_for_config`` evaluates the first parameter set of its grid that the strategy accepts, the
one the plan's first run will have.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from trading_framework import Bars, FeatureCache, Strategy, compute_metrics, simulate
from trading_runtime.config.experiment import ExperimentConfig, GridSweep
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.strategy_loader import load_strategy_class, strategy_target
from trading_runtime.planning import Plan, grid_combinations

log = logging.getLogger(__name__)

SYNTHETIC_BARS = 256
"""Bars of the warm-up beyond the strategy's warm-up (their values never matter, their types do)."""


WARM_UP_CANDIDATES = 64
"""A sweep's warm-up tries at most this many of its grid's first parameter sets (a grid whose first thousands
the strategy refuses is planned without it: its first run loads the kernels)."""


def synthetic_bars(n: int) -> Bars:
    """``n`` valid one-minute bars (a wave around 100), fresh C-contiguous arrays as a loaded file gives."""
    close = 100.0 + np.sin(np.arange(n) * 0.37)
    return Bars(np.arange(n, dtype=np.int64) * 60_000_000_000, close.copy(), close + 1.0, close - 1.0, close.copy(),
                np.ones(n), has_volume=True)


def warm_up(plan: Plan, allowed_prefixes: Sequence[str]) -> None:
    """Evaluate the plan's first parameter set on synthetic bars: its kernels are loaded into this process."""
    config = plan.config
    cls = load_strategy_class(config.strategy.class_path, f"plan {plan.experiment_id}", allowed_prefixes)
    evaluate_on_synthetic_bars(config, cls, plan.runs[0].params)


def evaluate_on_synthetic_bars(config: ExperimentConfig, cls: type[Strategy], params: Mapping[str, Any]) -> None:
    """One backtest of ``params`` on synthetic bars, its result dropped: the kernels it runs are loaded."""
    strategy = cls(cls.Params.model_validate(params))
    bars = synthetic_bars(strategy.warmup_bars() + SYNTHETIC_BARS)
    target = strategy_target(strategy, bars, FeatureCache(bars))
    compute_metrics(simulate(bars, target, execution_spec(config)), 252.0)


def warm_up_quietly(plan: Plan, allowed_prefixes: Sequence[str]) -> None:
    """``warm_up`` (numba started first: cached kernels load without its compiler registries); what fails is
    left to the shard's first run."""
    if not plan.runs:
        return
    start_numba()
    try:
        warm_up(plan, allowed_prefixes)
    except Exception:  # the shard's first run meets the same problem and reports it
        log.debug("kernel warm-up failed; the shard's first run loads the kernels", exc_info=True)


def warm_up_for_config(config: ExperimentConfig, source: str, allowed_prefixes: Sequence[str]) -> None:
    """A sweep's kernels loaded before it has a plan (while its data are read): the first parameter set of its
    grid that the strategy accepts (among its first ``WARM_UP_CANDIDATES``), the plan's first run's, evaluated on
    synthetic bars. Quiet: what fails (the strategy, the grid) is reported where the sweep meets it, in the order
    it always has."""
    start_numba()
    try:
        cls = load_strategy_class(config.strategy.class_path, source, allowed_prefixes)
        grid = config.sweep.expanded() if isinstance(config.sweep, GridSweep) else {}
        for params in itertools.islice(grid_combinations(config.strategy.params, grid), WARM_UP_CANDIDATES):
            try:
                cls.Params.model_validate(params)
            except ValidationError:
                continue
            evaluate_on_synthetic_bars(config, cls, params)
            return
    except Exception:  # the sweep's first run meets the same problem, or the plan reports it
        log.debug("kernel warm-up failed; the first run loads the kernels", exc_info=True)
