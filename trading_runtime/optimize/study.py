"""The study manifest (what init decides once) and opening the study in its storage.

The manifest fixes everything a step needs besides the storage: the config, the data's identity,
the warm-up, the validation folds, the resolved search space, the sampler, the trial budget and
the number of generations. The study id hashes what decides results (``planning.experiment_id``:
the config without ``shards``, ``store``, ``output``, ``description``, plus the data's sha256), so
worker count, shard size and store never change a study's identity or its results.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import optuna
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from trading_runtime.config.experiment import ExperimentConfig, ObjectiveConfig, OptunaSweep
from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.optimize.journal_storage import TrialSummary
from trading_runtime.optimize.keys import MAX_GENERATIONS, StudyKeys, generation_label
from trading_runtime.optimize.sampler import sampler_problems
from trading_runtime.optimize.space import Space, resolve_space, space_corners, space_document, space_from_document
from trading_runtime.optimize.storage import StorageFormat, StorageLocation, stored_storage
from trading_runtime.planning import DataRef, Fold, InstrumentRef, PlanData, experiment_id
from trading_runtime.planning.plan import identity_document, plan_folds, universe_folds
from trading_runtime.planning.stored import read_stored_model
from trading_runtime.store import ArtifactStore, write_complete

__all__ = ["MANIFEST_SCHEMA_VERSION", "StudyManifest", "init_study", "plan_study", "read_manifest"]

log = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
STUDY_ATTR = "trading_runtime_manifest_sha256"

ParamsCheck = Callable[[dict[str, Any]], str | None]


class StudyManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    study_id: str
    config: ExperimentConfig  # parsed once, where the manifest leaves the store
    config_sha256: str
    data: DataRef
    warmup_bars: int
    folds: list[Fold]
    space: dict[str, Any]
    n_trials: int
    batch_size: int
    n_generations: int
    storage_format: StorageFormat
    instruments: list[InstrumentRef] | None = None
    """A universe's instruments (a trial is evaluated on each; ``folds`` are then per instrument); left out of
    the JSON for one instrument."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if dumped.get("instruments") is None:
            dumped.pop("instruments", None)
        return dumped

    def fold_instruments(self) -> dict[str, str] | None:
        """A universe's fold id → symbol (None for one instrument)."""
        if self.instruments is None:
            return None
        return {f.id: str(f.instrument) for f in self.folds}

    @property
    def keys(self) -> StudyKeys:
        return StudyKeys(self.study_id)

    @property
    def storage_location(self) -> StorageLocation:
        return StorageLocation(self.storage_format, self.keys.storage(self.storage_format), self.batch_size,
                               self.n_generations)

    @property
    def sweep(self) -> OptunaSweep:
        sweep = self.config.sweep
        assert isinstance(sweep, OptunaSweep)
        return sweep

    @property
    def search_space(self) -> Space:
        return space_from_document(self.space)

    @property
    def directions(self) -> list[Literal["maximize", "minimize"]]:
        return [o.direction for o in self.sweep.objectives]

    def generation_of(self, number: int) -> int:
        return number // self.batch_size

    def generation_trials(self, g: int) -> range:
        return range(g * self.batch_size, min((g + 1) * self.batch_size, self.n_trials))

    def identity_sha256(self) -> str:
        """sha256 of what decides results: the manifest without the storage format, with the config's
        identity document (no shards, store, output, description, data location). Recorded in the study itself."""
        doc = self.model_dump(mode="json")
        doc.pop("storage_format")
        doc.pop("config_sha256")
        doc["data"].pop("path")  # where the data was read from is provenance
        for instrument in doc.get("instruments") or []:
            instrument["data"].pop("path")
        doc["config"] = identity_document(self.config)
        return sha256_hex(canonical_bytes(doc))


def primary_objective(sweep: OptunaSweep) -> ObjectiveConfig:
    """The first objective with the search's constraints: how a generation's experiment ranks its runs."""
    first = sweep.objectives[0]
    return ObjectiveConfig(metric=first.metric, direction=first.direction, constraints=sweep.constraints)


def _warmup(config: ExperimentConfig, space: Space, check: ParamsCheck, warmup_of: Callable[[dict[str, Any]], int],
            source: str) -> int:
    """The warm-up bars; the space's corners are checked with the strategy either way (a wrong type or an
    unknown name is a config error now, not in the middle of the search)."""
    corners = space_corners(space)
    valid = []
    for corner in corners or []:
        params = {**config.strategy.params, **corner}
        if check(params) is None:
            valid.append(params)
    if config.warmup_bars != "auto":
        return int(config.warmup_bars)
    if corners is None:
        raise InputError(f"{source}: warmup_bars: \"auto\" needs the space's corners, and it has more than 4096 "
                         "(set warmup_bars to a number of bars)")
    if not valid:
        raise InputError(f"{source}: warmup_bars: \"auto\" found no corner of sweep.space the strategy accepts "
                         "(set warmup_bars to a number of bars)")
    return max(warmup_of(p) for p in valid)


def plan_study(config: ExperimentConfig, source: str, data: DataRef, ts: npt.NDArray[np.int64], bar_seconds: int,
               declared: Mapping[str, Mapping[str, Any]], check: ParamsCheck,
               warmup_of: Callable[[dict[str, Any]], int], storage_format: StorageFormat = "journal",
               universe: list[PlanData] | None = None) -> StudyManifest:
    """The manifest of a study (pure). ``declared``: the strategy's declared parameter space. ``universe``: its
    instruments (``data`` then describes the whole universe); each is cut into folds of its own."""
    sweep = config.sweep
    if not isinstance(sweep, OptunaSweep):
        raise InputError(f"{source}: sweep.kind: 'optimize' runs kind 'optuna' searches (got '{sweep.kind}'; "
                         "grid sweeps run with 'plan' and 'sweep')")
    problems = [f"{source}: {p}" for p in sampler_problems(sweep.sampler, len(sweep.objectives), sweep.batch_size)]
    if config.objective.model_copy(update={"aggregate": "mean"}) != ObjectiveConfig():
        problems.append(f"{source}: objective: not used by optuna searches: set sweep.objectives and "
                        "sweep.constraints instead")
    metrics = [o.metric for o in sweep.objectives]
    if len(set(metrics)) != len(metrics):
        problems.append(f"{source}: sweep.objectives: each metric at most once (got {metrics})")
    n_generations = math.ceil(sweep.n_trials / sweep.batch_size)
    if n_generations > MAX_GENERATIONS:
        problems.append(f"{source}: sweep.batch_size: n_trials {sweep.n_trials} / batch_size {sweep.batch_size} "
                        f"makes {n_generations} generations; at most {MAX_GENERATIONS} (raise batch_size)")
    if problems:
        raise InputError(*problems)
    space = resolve_space(sweep, config.strategy.params, declared, config.strategy.class_path, source)
    warmup = _warmup(config, space, check, warmup_of, source)
    folds = (plan_folds(config, ts, warmup, bar_seconds, source) if universe is None
             else universe_folds(config, universe, warmup, bar_seconds, source))
    doc = config.model_dump(mode="json")
    return StudyManifest(
        schema_version=MANIFEST_SCHEMA_VERSION,
        study_id=experiment_id(config, data.sha256),
        config=doc,
        config_sha256=sha256_hex(canonical_bytes(doc)),
        data=data,
        warmup_bars=warmup,
        folds=folds,
        space=space_document(space),
        n_trials=sweep.n_trials,
        batch_size=sweep.batch_size,
        n_generations=n_generations,
        storage_format=storage_format,
        instruments=None if universe is None else [
            InstrumentRef(symbol=one.symbol or "", data=one.ref) for one in universe],
    )


def read_manifest(store: ArtifactStore, study_id: str) -> StudyManifest:
    key = StudyKeys(study_id).manifest
    return read_stored_model(store, key, StudyManifest,
                             f"{store.uri}: study '{study_id}': no manifest at {key} (run 'optimize init' first)")


def create_or_load(storage: optuna.storages.BaseStorage, manifest: StudyManifest,
                   sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """The study named by the manifest's id in ``storage`` (created when absent, checked when present)."""
    study = optuna.create_study(storage=storage, study_name=manifest.study_id, directions=manifest.directions,
                                sampler=sampler or optuna.samplers.RandomSampler(seed=0), load_if_exists=True)
    want = manifest.identity_sha256()
    have = study.user_attrs.get(STUDY_ATTR)
    if have is None:
        study.set_user_attr(STUDY_ATTR, want)
    elif have != want:
        raise InputError(f"study '{manifest.study_id}': the storage holds a study of that name made from another "
                         f"manifest (sha256 {have[:12]}, expected {want[:12]})")
    if [d.name.lower() for d in study.directions] != manifest.directions:
        raise InputError(f"study '{manifest.study_id}': the storage's study has directions "
                         f"{[d.name.lower() for d in study.directions]} (expected {manifest.directions})")
    return study


def load_study(storage: optuna.storages.BaseStorage, manifest: StudyManifest,
               sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    return optuna.load_study(study_name=manifest.study_id, storage=storage, sampler=sampler)


def init_study(store: ArtifactStore, manifest: StudyManifest) -> tuple[StudyManifest, bool]:
    """Create the study (storage, then manifest) unless it exists; returns (the stored manifest, created)."""
    keys = manifest.keys
    try:
        existing = read_manifest(store, manifest.study_id)
    except InputError:
        existing = None
    if existing is not None:
        if existing.identity_sha256() != manifest.identity_sha256():
            raise InputError(f"{store.uri}: study '{manifest.study_id}' exists with another manifest at "
                             f"{keys.manifest} (same id, different content: remove it or change the config's id)")
        return existing, False
    with stored_storage(store, manifest.storage_location, create=True) as st:
        create_or_load(st, manifest)
    write_complete(store, keys.manifest, canonical_bytes(manifest.model_dump(mode="json")))
    return manifest, True


# A trial as next_generation and the tell's summary read it: its number, state and values.
Trialish = optuna.trial.FrozenTrial | TrialSummary


def next_generation(manifest: StudyManifest, trials: Sequence[Trialish], finished_before: int = 0) -> int | None:
    """The first generation not yet told (None: every generation told); ``trials`` follow ``finished_before``
    finished ones (a tell that reads only its own generation's)."""
    finished = finished_before
    for t in trials:
        if not t.state.is_finished():
            break
        finished += 1
    if finished >= manifest.n_trials:
        return None
    return finished // manifest.batch_size


def study_status(store: ArtifactStore, manifest: StudyManifest) -> dict[str, Any]:
    """Where the study is: told trials, the next generation to run (label) or done."""
    with stored_storage(store, manifest.storage_location, write=False, evaluations=False) as storage:
        study = load_study(storage, manifest, optuna.samplers.RandomSampler(seed=0))
        trials = study.get_trials(deepcopy=False)
    nxt = next_generation(manifest, trials)
    return {
        "study": manifest.study_id,
        "n_trials": manifest.n_trials,
        "generations": manifest.n_generations,
        "asked": len(trials),
        "told": sum(1 for t in trials if t.state.is_finished()),
        "next_generation": None if nxt is None else generation_label(nxt),
        "done": nxt is None,
    }


@contextlib.contextmanager
def stored_study(store: ArtifactStore, manifest: StudyManifest) -> Iterator[optuna.Study]:
    """The study in its stored storage, read-only (finalize, verify)."""
    with stored_storage(store, manifest.storage_location, write=False) as storage:
        yield load_study(storage, manifest, optuna.samplers.RandomSampler(seed=0))


def configure_optuna_logging() -> None:
    """Optuna's messages through the CLI's handlers (warnings and above), not its own stderr handler."""
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
