"""Read the plan's expected shards (never a listing); trust only marked, checksum-verified ones.

Equity blobs are verified as they are read and then dropped: fan-in holds one blob at a time, so
its memory does not grow with the number of shards. ``ShardStatus.equity`` reads a completed
shard's blob again (checked against its result's sha256 again) when a caller needs its series.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trading_runtime.errors import VerificationError
from trading_runtime.golden.canonical import sha256_hex
from trading_runtime.planning import ExperimentKeys, Plan
from trading_runtime.store import (
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    CorruptArtifactError,
    read_complete,
)


@dataclass(frozen=True)
class ShardStatus:
    shard_id: str
    state: str  # completed | failed | missing
    reason: str | None = None
    result: dict[str, Any] | None = None
    load_equity: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def equity(self) -> bytes | None:
        """The shard's kept equity blob, read from the store and verified (None unless completed)."""
        return None if self.load_equity is None else self.load_equity()


@dataclass
class FanIn:
    plan: Plan
    shards: list[ShardStatus] = field(default_factory=list)

    def ids(self, state: str) -> list[str]:
        return [s.shard_id for s in self.shards if s.state == state]

    @property
    def complete(self) -> bool:
        return all(s.state == "completed" for s in self.shards)

    def document(self) -> dict[str, Any]:
        """fanin.json: exact expected / completed / failed / missing counts, in shards and in runs."""
        runs_of = {s.shard_id: len(s.run_ids) for s in self.plan.shards}
        counts = {state: len(self.ids(state)) for state in ("completed", "failed", "missing")}
        return {
            "experiment_id": self.plan.experiment_id,
            "shards": {
                "expected": len(self.plan.shards),
                **counts,
                "completed_ids": self.ids("completed"),
                "failures": [{"shard_id": s.shard_id, "reason": s.reason}
                             for s in self.shards if s.state == "failed"],
                "missing_ids": self.ids("missing"),
            },
            "runs": self.run_counts(runs_of),
        }

    def run_counts(self, runs_of: dict[str, int] | None = None) -> dict[str, int]:
        runs_of = runs_of or {s.shard_id: len(s.run_ids) for s in self.plan.shards}
        out = {"expected": len(self.plan.runs), "completed": 0, "failed": 0, "missing": 0}
        for s in self.shards:
            out[s.state] += runs_of[s.shard_id]
        return out

    def problems(self) -> list[str]:
        lines = []
        for s in self.shards:
            if s.state == "missing":
                lines.append(f"shard {s.shard_id}: missing (no completion marker)")
            elif s.state == "failed":
                lines.append(f"shard {s.shard_id}: failed: {s.reason}")
        return lines


def _check_shard(store: ArtifactStore, keys: ExperimentKeys, plan: Plan, shard_id: str,
                 expected_runs: list[str]) -> ShardStatus:
    try:
        payload = read_complete(store, keys.shard_result(shard_id))
    except CorruptArtifactError as e:
        return ShardStatus(shard_id, "failed", f"corrupt result: {e.lines[0] if e.lines else e}")
    except ArtifactMissingError:
        try:
            failure = json.loads(store.get_bytes(keys.shard_failure(shard_id)))
            return ShardStatus(shard_id, "failed", str(failure.get("error", "failed")))
        except ArtifactNotFoundError:
            return ShardStatus(shard_id, "missing")
    try:
        result = json.loads(payload)
    except ValueError:
        return ShardStatus(shard_id, "failed", "corrupt result: not JSON")
    if result.get("experiment_id") != plan.experiment_id or result.get("shard_id") != shard_id:
        return ShardStatus(shard_id, "failed", "result belongs to another experiment or shard")
    if [r.get("run_id") for r in result.get("runs", [])] != expected_runs:
        return ShardStatus(shard_id, "failed", "result's runs differ from the plan's")
    try:
        equity = store.get_bytes(keys.shard_equity(shard_id))
    except ArtifactNotFoundError:
        return ShardStatus(shard_id, "failed", "equity series missing")
    if sha256_hex(equity) != result["equity"]["sha256"]:
        return ShardStatus(shard_id, "failed", "corrupt equity series: sha256 mismatch")
    del equity  # verified; read again only where a series is needed (memory stays one blob)
    return ShardStatus(shard_id, "completed", result=result,
                       load_equity=lambda: _verified_equity(store, keys, shard_id, result["equity"]["sha256"]))


def _verified_equity(store: ArtifactStore, keys: ExperimentKeys, shard_id: str, sha256: str) -> bytes:
    key = keys.shard_equity(shard_id)
    try:
        blob = store.get_bytes(key)
    except ArtifactNotFoundError:
        raise VerificationError(f"{store.uri}: {key}: equity series missing "
                                f"(it verified when fan-in started)") from None
    if sha256_hex(blob) != sha256:
        raise VerificationError(f"{store.uri}: {key}: corrupt equity series: sha256 mismatch "
                                f"(it verified when fan-in started)")
    return blob


def shard_status(store: ArtifactStore, plan: Plan, shard_id: str) -> ShardStatus:
    """One planned shard as fan-in sees it: completed only when its result and its equity verify."""
    spec = plan.shard(shard_id)
    if spec is None:
        raise KeyError(shard_id)
    return _check_shard(store, plan.keys, plan, shard_id, spec.run_ids)


def collect_shards(store: ArtifactStore, plan: Plan) -> FanIn:
    keys = plan.keys
    fan = FanIn(plan)
    for spec in plan.shards:
        fan.shards.append(_check_shard(store, keys, plan, spec.shard_id, spec.run_ids))
    return fan
