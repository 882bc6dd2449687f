"""Fan-in of one experiment: verify every planned shard, write fanin.json, summary.json, provenance.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from trading_runtime.fanin import FanIn, collect_shards, summarize
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import read_plan
from trading_runtime.store import ArtifactStore, write_complete

log = logging.getLogger(__name__)


def finalize(store: ArtifactStore, experiment_id: str, provenance: Mapping[str, Any],
             fan: FanIn | None = None) -> str:
    """Write fanin.json, then (when every shard verifies) summary.json; returns the summary key.

    Raises VerificationError (exit 3) naming every missing or failed shard; fanin.json is written first
    either way. ``provenance`` (versions and commits, metadata) goes to provenance.json. ``fan``: the
    shards' statuses when the caller collected them already (the sweep, as its shards finished).
    """
    plan = read_plan(store, experiment_id)
    keys = plan.keys
    if fan is None or fan.plan != plan:
        fan = collect_shards(store, plan)
    doc = fan.document()
    write_complete(store, keys.fanin, canonical_bytes(doc.model_dump(mode="json")))  # marked: validate reads it
    s, r = doc.shards, doc.runs
    log.info("fan-in %s: shards expected %d completed %d failed %d missing %d; runs expected %d completed %d",
             experiment_id, s.expected, s.completed, s.failed, s.missing, r.expected, r.completed,
             extra={"experiment": experiment_id})
    fan.require_complete()
    config = plan.config
    summary, oos = summarize(fan, config, config.data.timeframe_seconds)
    if oos is not None:
        write_complete(store, keys.oos_equity, canonical_bytes(oos))
    write_complete(store, keys.summary, canonical_bytes(summary))
    write_complete(store, keys.provenance, canonical_bytes(dict(provenance)))
    return keys.summary
