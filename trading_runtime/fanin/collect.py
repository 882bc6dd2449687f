"""Read the plan's expected shards (never a listing); trust only marked, checksum-verified ones.

A shard's result holds its runs' metrics only (no equity: finalize derives the curves it needs), so
fan-in reads one small document per shard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from trading_runtime.config.experiment import OBJECTIVE_METRICS
from trading_runtime.errors import VerificationError
from trading_runtime.fanin.documents import FanInDocument, RunCounts, ShardCounts, ShardFailure
from trading_runtime.planning import ExperimentKeys, Plan
from trading_runtime.planning.keys import SHARD_SCHEMA_VERSION
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


@dataclass
class FanIn:
    plan: Plan
    shards: list[ShardStatus] = field(default_factory=list)

    def ids(self, state: str) -> list[str]:
        return [s.shard_id for s in self.shards if s.state == state]

    @property
    def complete(self) -> bool:
        return all(s.state == "completed" for s in self.shards)

    def document(self) -> FanInDocument:
        """fanin.json: exact expected / completed / failed / missing counts, in shards and in runs."""
        runs_of = {s.shard_id: len(s.run_ids) for s in self.plan.shards}
        counts = {state: len(self.ids(state)) for state in ("completed", "failed", "missing")}
        return FanInDocument(
            experiment_id=self.plan.experiment_id,
            shards=ShardCounts(
                expected=len(self.plan.shards),
                **counts,
                completed_ids=self.ids("completed"),
                failures=[ShardFailure(shard_id=s.shard_id, reason=s.reason)
                          for s in self.shards if s.state == "failed"],
                missing_ids=self.ids("missing"),
            ),
            runs=RunCounts(**self.run_counts(runs_of)),
        )

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

    def require_complete(self) -> None:
        """Raise VerificationError (exit 3) with the counts and one line per missing or failed shard."""
        if self.complete:
            return
        runs = self.run_counts()
        raise VerificationError(
            f"experiment {self.plan.experiment_id}: {len(self.ids('completed'))} of {len(self.plan.shards)} shards "
            f"complete ({len(self.ids('failed'))} failed, {len(self.ids('missing'))} missing); runs "
            f"{runs['completed']} of {runs['expected']}", *self.problems())


def _check_shard(store: ArtifactStore, keys: ExperimentKeys, plan: Plan, shard_id: str,
                 expected_runs: list[str]) -> ShardStatus:
    try:
        payload = read_complete(store, keys.shard_result(shard_id))
    except CorruptArtifactError as e:
        return ShardStatus(shard_id, "failed", f"corrupt result: {e.lines[0] if e.lines else e}")
    except ArtifactMissingError:
        try:
            raw_failure = store.get_bytes(keys.shard_failure(shard_id))
        except ArtifactNotFoundError:
            return ShardStatus(shard_id, "missing")
        return ShardStatus(shard_id, "failed", _failure_reason(raw_failure, keys.shard_failure(shard_id)))
    try:
        result = json.loads(payload)
    except ValueError:
        return ShardStatus(shard_id, "failed", "corrupt result: not JSON")
    if isinstance(result, dict) and result.get("schema_version") != SHARD_SCHEMA_VERSION:
        return ShardStatus(shard_id, "failed", f"result {keys.shard_result(shard_id)}: schema_version "
                           f"{result.get('schema_version')!r}, this version reads {SHARD_SCHEMA_VERSION} (written by "
                           "another trading-runtime version: run the shard again)")
    malformed = malformed_result(result)
    if malformed is not None:
        return ShardStatus(shard_id, "failed", f"malformed result {keys.shard_result(shard_id)}: {malformed}")
    if result.get("experiment_id") != plan.experiment_id or result.get("shard_id") != shard_id:
        return ShardStatus(shard_id, "failed", "result belongs to another experiment or shard")
    if [r.get("run_id") for r in result.get("runs", [])] != expected_runs:
        return ShardStatus(shard_id, "failed", "result's runs differ from the plan's")
    return ShardStatus(shard_id, "completed", result=result)


def _failure_reason(raw: bytes, key: str) -> str:
    """The error a failed.json records (it has no marker: whatever it holds is only a reason to show)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return str(doc["error"])
    return f"failed (unreadable {key}: expected a JSON object with an 'error' text)"


def _is_metric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _malformed_metrics(doc: Any, where: str) -> str | None:
    if not isinstance(doc, dict):
        return f"{where}: expected an object of metrics (got {type(doc).__name__})"
    for name in OBJECTIVE_METRICS:
        if name not in doc:
            return f"{where}: metric {name!r} missing"
        if not _is_metric(doc[name]):
            return f"{where}.{name}: expected a number or null (got {doc[name]!r:.40})"
    return None


def malformed_result(result: Any) -> str | None:
    """What is wrong with the structure of a shard's result.json (None: the shape fan-in reads), with its JSON path."""
    if not isinstance(result, dict):
        return f"expected a JSON object (got {type(result).__name__})"
    runs = result.get("runs")
    if not isinstance(runs, list):
        return "runs: expected a list"
    for i, rec in enumerate(runs):
        where = f"runs[{i}]"
        if not isinstance(rec, dict):
            return f"{where}: expected an object (got {type(rec).__name__})"
        if not isinstance(rec.get("run_id"), str):
            return f"{where}.run_id: expected a text"
        if not isinstance(rec.get("params"), dict):
            return f"{where}.params: expected an object"
        if "in_sample" not in rec:
            return f"{where}.in_sample: missing"
        problem = _malformed_metrics(rec["in_sample"], f"{where}.in_sample")
        if problem is None and rec.get("out_of_sample") is not None:
            problem = _malformed_metrics(rec["out_of_sample"], f"{where}.out_of_sample")
        if problem is not None:
            return problem
    return None


def shard_status(store: ArtifactStore, plan: Plan, shard_id: str) -> ShardStatus:
    """One planned shard as fan-in sees it: completed only when its marked result verifies."""
    spec = plan.shard(shard_id)
    if spec is None:
        raise KeyError(shard_id)
    return _check_shard(store, plan.keys, plan, shard_id, spec.run_ids)


def collect_shards(store: ArtifactStore, plan: Plan) -> FanIn:
    """Every planned shard's status, in the plan's order."""
    keys = plan.keys
    fan = FanIn(plan)
    for spec in plan.shards:
        fan.shards.append(_check_shard(store, keys, plan, spec.shard_id, spec.run_ids))
    return fan
