"""plan.json in the store: written complete (payload, then its marker), read back and validated."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from trading_runtime.config.loading import render_validation_error
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.planning.plan import Plan
from trading_runtime.store import (
    ArtifactMissingError,
    ArtifactStore,
    CorruptArtifactError,
    read_complete,
    write_complete,
)

M = TypeVar("M", bound=BaseModel)


def read_stored_model(store: ArtifactStore, key: str, model: type[M], missing: str,
                      malformed: str | None = None, config_field: str | None = None) -> M:
    """A complete document (marker verified) parsed into ``model``: InputError ``missing`` when it is absent,
    one line per problem when it does not match (written by another version, or edited by hand).

    With ``malformed``, a document that is not JSON or not the model is VerificationError (exit 3: it passed
    its marker), one line: ``malformed`` and the first problem; except problems all inside ``config_field``
    (the config a plan carries, edited by hand), which stay bad input (exit 2), one line each.
    """
    try:
        raw = read_complete(store, key)
    except ArtifactMissingError:
        raise InputError(missing) from None
    try:
        return model.model_validate(json.loads(raw))
    except ValidationError as e:
        in_config = config_field is not None and all(err["loc"][:1] == (config_field,) for err in e.errors())
        if malformed is not None and not in_config:
            raise VerificationError(f"{malformed}: {render_validation_error(e, key)[0]}") from None
        raise InputError(*render_validation_error(e, f"{store.uri}/{key}")) from None
    except ValueError as e:  # not JSON
        if malformed is not None:
            raise VerificationError(f"{malformed}: {key}: not JSON ({e})") from None
        raise InputError(f"{store.uri}/{key}: not JSON ({e})") from None


def write_plan(store: ArtifactStore, plan: Plan, *, exclusive: bool = False) -> None:
    """Write the plan. ``exclusive`` (plan, sweep): an existing complete plan of the experiment must be
    byte-identical — one with another shard layout would orphan the finished shards and make two workflows
    overwrite each other's plan. (An Optuna generation may be re-asked with another shard size: not exclusive.)"""
    key = ExperimentKeys(plan.experiment_id).plan
    payload = canonical_bytes(plan.model_dump(mode="json"))
    try:
        existing = read_complete(store, key) if exclusive else None
    except (ArtifactMissingError, CorruptArtifactError):
        existing = None
    if existing is not None and existing != payload:
        try:
            old = json.loads(existing)["config"]["shards"]["runs_per_shard"]
        except (ValueError, KeyError, TypeError):
            old = None
        new = plan.config.shards.runs_per_shard
        what = (f"with runs_per_shard {old} (this plan: {new}); finish or remove it, or plan with runs_per_shard {old}"
                if old is not None and old != new else "with different content; remove it to plan again")
        raise InputError(f"{store.uri}: experiment '{plan.experiment_id}' is already planned at {key} {what}")
    write_complete(store, key, payload)


def read_plan(store: ArtifactStore, experiment_id: str) -> Plan:
    """The experiment's plan. Absent: exit 2 (run 'plan' first); present (it passed its marker) but not
    JSON or not a plan: exit 3; a plan whose config does not validate (edited by hand): exit 2."""
    key = ExperimentKeys(experiment_id).plan
    where = f"{store.uri}: experiment '{experiment_id}'"
    return read_stored_model(store, key, Plan, f"{where}: no plan at {key} (run 'plan' first)",
                             malformed=f"{where}: malformed plan (it passed its marker)", config_field="config")
