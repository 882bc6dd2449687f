"""Fan-in: verify every planned shard, then merge into fanin.json and summary.json."""

from trading_runtime.fanin.collect import FanIn, ShardStatus, collect_shards, shard_status
from trading_runtime.fanin.summary import Ranking, rank_folds, summarize

__all__ = ["FanIn", "Ranking", "ShardStatus", "collect_shards", "rank_folds", "shard_status", "summarize"]
