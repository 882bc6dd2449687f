"""A step's data read on a thread from the moment its config or plan is parsed, while numba, the framework's
kernels and the strategy are imported (and, for a shard, the kernels loaded): ``run-shard``, ``plan``,
``sweep`` and a single instrument's ``backtest``.

Importing numba with llvmlite and the framework's compiled modules takes ~0.1–0.2 s of interpreter time,
reading 1M Parquet bars ~0.08–0.2 s (a shard's planned bytes are not validated again; a config's are), most
of it in Parquet's decoding, numpy's copies and sha256, which release the GIL: with a free core the read
leaves the start-up's path. This module imports no numba (the data are read by ``experiment_data``,
numba-free); the numba side is imported by the caller, or here, only once the read has started. The data's
errors are raised as themselves where the step takes the data, in the order ``experiment.load_inputs``,
``experiment.planned_inputs`` and ``backtest.run_backtest_config`` give them (bad data: one line, exit 2, as
before); the reading thread is always joined first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from trading_runtime.config.backtest import BacktestConfig
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.data import LoadedBars
from trading_runtime.data.background import Background, in_background
from trading_runtime.execution.data_source import load_data
from trading_runtime.execution.experiment_data import ExperimentData, read_config_data, read_planned_data
from trading_runtime.planning import Plan

if TYPE_CHECKING:
    from trading_runtime.execution.experiment import ExperimentInputs

DATA_THREAD = "experiment-data"


def config_data_reading(config: ExperimentConfig, source: str,
                        base_dir: Path) -> AbstractContextManager[Background[ExperimentData]]:
    """``read_config_data(config, source, base_dir)`` started on a thread for the ``with`` body; the value
    yielded awaits it when called (``experiment.load_inputs``' ``read``) and tells whether it is done."""
    return in_background(lambda: read_config_data(config, source, base_dir), DATA_THREAD)


def backtest_data_reading(config: BacktestConfig, base_dir: Path) -> AbstractContextManager[Callable[[], LoadedBars]]:
    """A backtest's ``load_data(config.data, base_dir)`` started on a thread for the ``with`` body (one
    instrument; ``execution.backtest.run_backtest_config``' ``read``)."""
    return in_background(lambda: load_data(config.data, base_dir), DATA_THREAD)


def shard_inputs(plan: Plan, base_dir: Path, shard_id: str, allowed_prefixes: Sequence[str]) -> ExperimentInputs:
    """The inputs of ``plan``'s shard ``shard_id`` (as ``experiment.inputs_for_plan``), its kernels loaded
    (``kernel_warmup``) while the data are read."""
    with in_background(lambda: read_planned_data(plan, base_dir, shard_id), DATA_THREAD) as read:
        # numba comes in here, while the data are read: the experiment's modules import the framework's kernels
        from trading_runtime.execution.experiment import planned_inputs
        from trading_runtime.execution.kernel_warmup import warm_up_quietly

        warm_up_quietly(plan, allowed_prefixes)
        return planned_inputs(plan, read, allowed_prefixes)
