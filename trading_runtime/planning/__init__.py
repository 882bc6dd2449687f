"""Planning: grid expansion, validation windows, run ids, shard assignment (pure); plan.json in the store."""

from trading_runtime.planning.keys import ExperimentKeys, split_experiment_location
from trading_runtime.planning.plan import (
    DataRef,
    InstrumentRef,
    Plan,
    PlanData,
    PlannedRun,
    Sharding,
    ShardSpec,
    describe_dropped,
    experiment_id,
    grid_combinations,
    plan_experiment,
    shard_runs,
)
from trading_runtime.planning.stored import read_plan, write_plan
from trading_runtime.planning.windows import Fold, Segment

__all__ = [
    "DataRef",
    "ExperimentKeys",
    "Fold",
    "InstrumentRef",
    "Plan",
    "PlanData",
    "PlannedRun",
    "Segment",
    "ShardSpec",
    "Sharding",
    "describe_dropped",
    "experiment_id",
    "grid_combinations",
    "plan_experiment",
    "read_plan",
    "shard_runs",
    "split_experiment_location",
    "write_plan",
]
