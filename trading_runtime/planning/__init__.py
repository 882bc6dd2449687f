"""Planning (pure): grid expansion, validation windows, run ids, shard assignment → plan.json."""

from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.plan import (
    DataRef,
    Fold,
    Plan,
    PlannedRun,
    Segment,
    ShardSpec,
    experiment_id,
    plan_experiment,
)

__all__ = [
    "DataRef", "ExperimentKeys", "Fold", "Plan", "PlannedRun", "Segment", "ShardSpec", "experiment_id",
    "plan_experiment",
]
