"""plan.json in the store: written complete (payload, then its marker), read back and validated."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from trading_runtime.config.loading import render_validation_error
from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.plan import Plan
from trading_runtime.store import ArtifactMissingError, ArtifactStore, read_complete, write_complete

M = TypeVar("M", bound=BaseModel)


def read_stored_model(store: ArtifactStore, key: str, model: type[M], missing: str) -> M:
    """A complete document (marker verified) parsed into ``model``: InputError ``missing`` when it is absent,
    one line per problem when it does not match (written by another version, or edited by hand)."""
    try:
        raw = read_complete(store, key)
    except ArtifactMissingError:
        raise InputError(missing) from None
    try:
        return model.model_validate(json.loads(raw))
    except ValidationError as e:
        raise InputError(*render_validation_error(e, f"{store.uri}/{key}")) from None


def write_plan(store: ArtifactStore, plan: Plan) -> None:
    write_complete(store, ExperimentKeys(plan.experiment_id).plan, canonical_bytes(plan.model_dump(mode="json")))


def read_plan(store: ArtifactStore, experiment_id: str) -> Plan:
    key = ExperimentKeys(experiment_id).plan
    return read_stored_model(store, key, Plan,
                             f"{store.uri}: experiment '{experiment_id}': no plan at {key} (run 'plan' first)")
