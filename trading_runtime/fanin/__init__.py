"""Fan-in: verify every planned shard, then merge into fanin.json and summary.json."""

from trading_runtime.fanin.collect import FanIn, ShardStatus, collect_shards, shard_status
from trading_runtime.fanin.summary import summarize

__all__ = ["FanIn", "ShardStatus", "collect_shards", "shard_status", "summarize"]
