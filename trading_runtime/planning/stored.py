"""plan.json in the store: written complete (payload, then its marker), read back and validated."""

from __future__ import annotations

import json

from pydantic import ValidationError

from trading_runtime.config.loading import render_validation_error
from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.plan import Plan
from trading_runtime.store import ArtifactMissingError, ArtifactStore, read_complete, write_complete


def write_plan(store: ArtifactStore, plan: Plan) -> None:
    write_complete(store, ExperimentKeys(plan.experiment_id).plan, canonical_bytes(plan.model_dump(mode="json")))


def read_plan(store: ArtifactStore, experiment_id: str) -> Plan:
    key = ExperimentKeys(experiment_id).plan
    try:
        raw = read_complete(store, key)
    except ArtifactMissingError:
        raise InputError(f"{store.uri}: experiment '{experiment_id}': no plan at {key} (run 'plan' first)") from None
    try:
        return Plan.model_validate(json.loads(raw))
    except ValidationError as e:  # a plan written by another version, or edited by hand
        raise InputError(*render_validation_error(e, f"{store.uri}/{key}")) from None
