"""The compiled kernels loaded on a thread while the data are read (run-shard, sweep).

A ``run-shard`` process spends its start-up in two serial steps that barely compete for the interpreter:
reading its data (Parquet decoding, numpy copies and sha256, which release the GIL) and its first run,
whose first calls load the strategy's and the simulator's compiled kernels from numba's on-disk cache
(unpickling, linking machine code: ~0.07 s). ``kernels_warming`` runs the second during the first: a
thread evaluates the plan's first parameter set on a few hundred synthetic bars (the same kernels, the
same argument types as the shard's runs: C-contiguous float64 and int64 arrays), and the data phase
joins it on its way out. A sweep does the same before it has a plan, with its config's first valid grid
combination (the same strategy, so the same kernels). Nothing it computes is kept; a failure there is
left to the first run, which raises it where it belongs (the thread only logs it at debug level).

The thread is always joined before the step returns or raises (never left running at exit, where
numba/LLVM would be torn down under it); numba's compiler lock serialises its loading with any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import ValidationError

from trading_framework import Bars, FeatureCache, Strategy, compute_metrics, simulate
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.strategy_loader import load_strategy_class, strategy_target
from trading_runtime.planning import Plan
from trading_runtime.planning.plan import expand_grid

log = logging.getLogger(__name__)

SYNTHETIC_BARS = 256
"""Bars of the warm-up beyond the strategy's warm-up (their values never matter, their types do)."""


def synthetic_bars(n: int) -> Bars:
    """``n`` valid one-minute bars (a wave around 100), fresh C-contiguous arrays as a loaded file gives."""
    close = 100.0 + np.sin(np.arange(n) * 0.37)
    return Bars(np.arange(n, dtype=np.int64) * 60_000_000_000, close.copy(), close + 1.0, close - 1.0, close.copy(),
                np.ones(n), has_volume=True)


def first_grid_params(config: ExperimentConfig, cls: type[Strategy]) -> dict[str, Any] | None:
    """The first combination of the config's grid that the strategy accepts (None: none does)."""
    def check(params: dict[str, Any]) -> str | None:
        try:
            cls.Params.model_validate(params)
        except ValidationError:
            return "rejected"
        return None

    valid, _ = expand_grid(config, check)
    return valid[0] if valid else None


def warm_up(config: ExperimentConfig, allowed_prefixes: Sequence[str],
            params: Mapping[str, Any] | None = None) -> None:
    """Evaluate ``params`` (default: the config's first valid grid combination) on synthetic bars: the
    kernels of the config's strategy and execution are then loaded into this process."""
    cls = load_strategy_class(config.strategy.class_path, "config", allowed_prefixes)
    chosen = dict(params) if params is not None else first_grid_params(config, cls)
    if chosen is None:
        return
    strategy = cls(cls.Params.model_validate(chosen))
    bars = synthetic_bars(strategy.warmup_bars() + SYNTHETIC_BARS)
    target = strategy_target(strategy, bars, FeatureCache(bars))
    compute_metrics(simulate(bars, target, execution_spec(config)), 252.0)


def _warm_up_quietly(config: ExperimentConfig, allowed_prefixes: Sequence[str],
                     params: Mapping[str, Any] | None) -> None:
    try:
        warm_up(config, allowed_prefixes, params)
    except Exception:  # the first run meets the same problem and reports it
        log.debug("kernel warm-up failed; the first run loads the kernels", exc_info=True)


@contextmanager
def kernels_warming(config: ExperimentConfig, allowed_prefixes: Sequence[str],
                    params: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Load the kernels ``warm_up`` uses on a thread during the ``with`` body (joined when it ends, also on
    error). ``params``: a plan's first run's (run-shard); None: the config's first valid grid combination
    (sweep: while its data are read, before the plan exists)."""
    start_numba()  # before the thread: cached kernels load without numba's compiler registries
    thread = threading.Thread(target=_warm_up_quietly, args=(config, tuple(allowed_prefixes), params),
                              name="kernel-warm-up")
    thread.start()
    try:
        yield
    finally:
        thread.join()


@contextmanager
def plan_kernels_warming(plan: Plan, allowed_prefixes: Sequence[str]) -> Iterator[None]:
    """``kernels_warming`` with the plan's first parameter set (nothing for a plan without runs)."""
    if not plan.runs:
        yield
        return
    with kernels_warming(plan.config, allowed_prefixes, plan.runs[0].params):
        yield
