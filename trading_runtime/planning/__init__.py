"""Planning (pure): grid expansion, validation windows, run ids, shard assignment → plan.json."""

from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.plan import (
    DataRef,
    Fold,
    Plan,
    PlannedRun,
    Segment,
    Sharding,
    ShardSpec,
    experiment_id,
    plan_experiment,
    shard_runs,
)

__all__ = [
    "DataRef", "ExperimentKeys", "Fold", "Plan", "PlannedRun", "Segment", "ShardSpec", "Sharding", "experiment_id",
    "plan_experiment", "shard_runs",
]
