"""A shard process's start: its data read on a thread from the moment its plan is parsed, while numba, the
framework's kernels and the strategy are imported and the kernels loaded.

Importing numba with llvmlite and the framework's compiled modules takes ~0.1–0.2 s of interpreter time,
reading 1M Parquet bars ~0.08–0.1 s, most of it in Parquet's decoding, numpy's copies and sha256, which
release the GIL: with a free core the read leaves the start-up's path. This module imports none of numba (the
data are read by ``experiment_data``, numba-free); ``shard_inputs`` imports the numba side only once the read
has started. The data's errors are raised as themselves once the strategy class is loaded, in the order
``experiment.planned_inputs`` gives them (bad data: one line, exit 2, as before); the reading thread is always
joined first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from trading_runtime.data.background import in_background
from trading_runtime.execution.experiment_data import read_planned_data
from trading_runtime.planning import Plan

if TYPE_CHECKING:
    from trading_runtime.execution.experiment import ExperimentInputs

DATA_THREAD = "shard-data"


def shard_inputs(plan: Plan, base_dir: Path, shard_id: str, allowed_prefixes: Sequence[str]) -> ExperimentInputs:
    """The inputs of ``plan``'s shard ``shard_id`` (as ``experiment.inputs_for_plan``), its kernels loaded."""
    with in_background(lambda: read_planned_data(plan, base_dir, shard_id), DATA_THREAD) as read:
        # numba comes in here, while the data are read: the experiment's modules import the framework's kernels
        from trading_runtime.execution.experiment import planned_inputs
        from trading_runtime.execution.kernel_warmup import warm_up_quietly

        warm_up_quietly(plan, allowed_prefixes)
        return planned_inputs(plan, read, allowed_prefixes)
