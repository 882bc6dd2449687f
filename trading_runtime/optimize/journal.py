"""A study's Optuna journal in memory: its lines, the fold of a told generation, and the storage a step uses.

A coordinator step reads the journal's objects (``optimize/storage.py``) into a
:class:`JournalMemoryStorage`: Optuna's in-memory storage, filled from the journal's operations, that
writes every change it makes as the operation Optuna's ``JournalStorage`` would write (the same fields,
the same line format: the stored journal stays an ordinary Optuna journal file) and holds the state that
``JournalStorage`` would replay from those lines: attributes and values pass through JSON as the
journal's do, and a trial's times are the journal's (UTC in the line, local without a zone in the trial).

Why not ``JournalStorage`` itself: it replays every stored line through JSON and rebuilds each
parameter's distribution from its JSON text (~40 µs per stored trial), and it replays each operation a
step makes (~0.5 ms per TPE trial more than the in-memory storage, CPU time, 1,000 trials). Here a told
trial's folded line (:func:`compact_journal`) is read in one pass with the distributions parsed once per
journal; with ``evaluations=False`` (the ask and tell steps) a complete trial's user attributes (its
evaluation, ~1.2 kB of JSON that no sampler reads) are not parsed at all: folded lines keep
``user_attrs`` last, so the line's head is parsed alone. Readers of results (finalize, verify) load
everything.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.storages import InMemoryStorage
from optuna.storages.journal import BaseJournalBackend
from optuna.study._study_direction import StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BytesJournalBackend", "JournalMemoryStorage", "compact_journal"]


class BytesJournalBackend(BaseJournalBackend):
    """An Optuna journal held in memory as the lines of a journal file."""

    def __init__(self, data: bytes = b"") -> None:
        self._lines: list[bytes] = []
        self.extend(data)
        self.changed = False

    def extend(self, data: bytes) -> None:
        """Append the lines of a journal object (whole lines only)."""
        lines = data.splitlines(keepends=True)
        if lines and not lines[-1].endswith(b"\n"):
            raise ValueError("journal: the last line is incomplete")
        self._lines.extend(lines)

    def lines(self) -> list[bytes]:
        return self._lines

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        for line in self._lines[log_number_from:]:
            yield json.loads(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        # The exact line format of JournalFileBackend.append_logs.
        self._lines.extend(_line(entry) for entry in logs)
        self.changed = True

    def append_line(self, line: bytes) -> None:
        self._lines.append(line)
        self.changed = True

    def dump(self, start: int = 0, stop: int | None = None) -> bytes:
        """The journal file's bytes of lines ``start`` … ``stop`` - 1 (default: all)."""
        return b"".join(self._lines[start:stop])

    def count_trials(self) -> int:
        """The number of trial creations in the journal."""
        return sum(1 for line in self._lines if line.startswith(_CREATE_PREFIX))

    def compact(self, first_trial_id: int) -> bool:
        folded = compact_journal(self._lines, first_trial_id)
        if folded is None:
            return False
        self._lines = folded
        self.changed = True
        return True

    def __len__(self) -> int:
        return len(self._lines)


def _line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")


# Journal operation codes (optuna.storages.journal._storage.JournalOperation).
_CREATE_STUDY, _SET_STUDY_USER_ATTR, _SET_STUDY_SYSTEM_ATTR = 0, 2, 3
_STUDY_OPS = (_CREATE_STUDY, _SET_STUDY_USER_ATTR, _SET_STUDY_SYSTEM_ATTR)
_CREATE_TRIAL, _SET_PARAM, _SET_STATE, _SET_INTERMEDIATE, _SET_USER_ATTR, _SET_SYSTEM_ATTR = 4, 5, 6, 7, 8, 9
_CREATE_PREFIX = b'{"op_code":4,'
_USER_ATTRS = b',"user_attrs":'
_FINISHED_STATES = (1, 2, 3)  # COMPLETE, PRUNED, FAIL
_STATES = {int(s): s for s in TrialState}
# The keys a folded line holds before ``user_attrs`` (its last key): a head holding them all was cut at the
# top-level ``user_attrs`` (JSON objects have unique keys; a cut inside a nested value lacks the later ones).
_HEAD_KEYS = frozenset({"op_code", "worker_id", "study_id", "datetime_start", "params", "distributions",
                        "system_attrs", "intermediate_values", "state"})


def compact_journal(lines: list[bytes], first_trial_id: int) -> list[bytes] | None:
    """The journal with every operation from the creation of trial ``first_trial_id`` on folded into one
    create-trial operation per trial (params, state, values, attributes, times: what Optuna's replay of the
    original operations yields; ``user_attrs`` its last key), study operations kept before them. None when it
    cannot (a trial still running, an operation on an earlier trial, an unknown operation): the journal is
    then kept as it is.

    A told generation thus costs one journal line per trial instead of one per parameter, attribute and
    state change, which makes the next step's read several times faster.
    """
    creates = 0
    boundary = None
    for i, line in enumerate(lines):
        if line.startswith(_CREATE_PREFIX):
            if creates == first_trial_id:
                boundary = i
                break
            creates += 1
    if boundary is None:
        return None
    study_lines: list[bytes] = []
    trials: dict[int, dict[str, Any]] = {}
    next_id = first_trial_id
    for line in lines[boundary:]:
        op = json.loads(line)
        code = op.get("op_code")
        if code in _STUDY_OPS:
            study_lines.append(line)
            continue
        if code == _CREATE_TRIAL:
            created = dict(op)
            for key in ("params", "distributions", "user_attrs", "system_attrs", "intermediate_values"):
                created[key] = dict(created.get(key) or {})
            trials[next_id] = created
            next_id += 1
            continue
        target = trials.get(int(op.get("trial_id", -1)))
        if target is None:
            return None
        t = target
        if t.get("state") in _FINISHED_STATES:
            continue  # Optuna's replay ignores changes to a finished trial
        if code == _SET_PARAM:
            t["params"][op["param_name"]] = op["param_value_internal"]
            t["distributions"][op["param_name"]] = op["distribution"]
        elif code == _SET_STATE:
            t["state"] = op["state"]
            if op.get("values") is not None:
                t["values"] = op["values"]
            for key in ("datetime_start", "datetime_complete"):
                if key in op:
                    t[key] = op[key]
        elif code == _SET_INTERMEDIATE:
            t["intermediate_values"][str(op["step"])] = op["intermediate_value"]
        elif code == _SET_USER_ATTR:
            t["user_attrs"].update(op["user_attr"])
        elif code == _SET_SYSTEM_ATTR:
            t["system_attrs"].update(op["system_attr"])
        else:
            return None
    if any(t.get("state") not in _FINISHED_STATES for t in trials.values()):
        return None
    folded = [_line({**{k: v for k, v in trials[i].items() if k != "user_attrs"},
                     "user_attrs": trials[i]["user_attrs"]}) for i in sorted(trials)]
    return lines[:boundary] + study_lines + folded


_decode = json.JSONDecoder().decode


class _Times:
    """ISO times of the journal (with their zone) → the local times without a zone that Optuna's replay gives."""

    def __init__(self) -> None:
        # A local zone that is UTC all year: the line's UTC time is the local time (no zone lookup per time).
        self.utc = time.daylight == 0 and time.timezone == 0 and \
            datetime(2000, 1, 1, tzinfo=timezone.utc).astimezone().utcoffset() == timedelta(0)

    def local(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        if self.utc and text.endswith("+00:00"):
            return datetime.fromisoformat(text[:-6])
        return datetime.fromisoformat(text).astimezone().replace(tzinfo=None)


class JournalMemoryStorage(InMemoryStorage):
    """Optuna's in-memory storage, read from a journal's lines, writing its changes as journal operations.

    ``evaluations=False``: a complete trial read from a folded line has no user attributes until
    :meth:`read_evaluations` (see the module docstring).
    """

    def __init__(self, backend: BytesJournalBackend, *, evaluations: bool = True) -> None:
        super().__init__()
        self.backend = backend
        self._skip_evaluations = not evaluations
        self._unread: dict[int, bytes] = {}  # trial id → its folded line, whose user attributes were not read
        self._worker_id = f"{uuid.uuid4()}-{threading.get_ident()}"
        self._times = _Times()
        self._dists: dict[str, BaseDistribution] = {}
        for line in backend.lines():
            self._read_line(line)

    @property
    def evaluations(self) -> bool:
        """Whether every trial holds its user attributes."""
        return not self._unread

    def read_evaluations(self) -> None:
        """Read the user attributes that were left unread."""
        with self._lock:
            for trial_id, line in self._unread.items():
                trial = copy.copy(self._get_trial(trial_id))
                trial.user_attrs = json.loads(line)["user_attrs"]
                self._set_trial(trial_id, trial)
            self._unread.clear()

    # ------------------------------------------------------------------------------------------ reading

    def _read_line(self, line: bytes) -> None:
        if line.startswith(_CREATE_PREFIX) and self._read_folded(line):
            return
        self._apply(json.loads(line))

    def _distribution(self, text: str) -> BaseDistribution:
        dist = self._dists.get(text)
        if dist is None:
            dist = self._dists[text] = json_to_distribution(text)
        return dist

    def _read_folded(self, line: bytes) -> bool:
        """A folded create-trial line of a finished trial, its evaluation unread when not wanted; False when the
        line is not one (it is then applied as an ordinary operation)."""
        cut = line.find(_USER_ATTRS)
        if cut < 0:
            return False
        try:
            head = _decode(line[:cut].decode() + "}")
        except ValueError:
            return False
        if not _HEAD_KEYS <= head.keys() or head["state"] not in _FINISHED_STATES:
            return False
        skip = self._skip_evaluations and head["state"] == TrialState.COMPLETE
        head["user_attrs"] = {} if skip else json.loads(line)["user_attrs"]
        trial_id = self._create_trial(head)
        if skip:
            self._unread[trial_id] = line
        return True

    def _apply(self, op: dict[str, Any]) -> None:
        """One journal operation of another writer, as Optuna's replay applies it (ignored where it ignores)."""
        code = op["op_code"]
        if code == _CREATE_STUDY:
            if op["study_name"] not in self._study_name_to_id:
                InMemoryStorage.create_new_study(self, [StudyDirection(d) for d in op["directions"]], op["study_name"])
        elif code in (_SET_STUDY_USER_ATTR, _SET_STUDY_SYSTEM_ATTR):
            if op["study_id"] in self._studies:
                info = self._studies[op["study_id"]]
                if code == _SET_STUDY_USER_ATTR:
                    info.user_attrs = {**info.user_attrs, **op["user_attr"]}
                else:
                    info.system_attrs = {**info.system_attrs, **op["system_attr"]}
        elif code == _CREATE_TRIAL:
            if op["study_id"] in self._studies:
                self._create_trial(op)
        elif code in (_SET_PARAM, _SET_STATE, _SET_INTERMEDIATE, _SET_USER_ATTR, _SET_SYSTEM_ATTR):
            trial_id = op["trial_id"]
            if trial_id in self._trial_id_to_study_id_and_number and not self._get_trial(trial_id).state.is_finished():
                self._update_trial(code, trial_id, op)
        else:
            raise ValueError(f"journal: operation {code} is not supported here")

    def _create_trial(self, op: dict[str, Any]) -> int:
        study_id = op["study_id"]
        dists = {k: self._distribution(v) for k, v in (op.get("distributions") or {}).items()}
        info = self._studies[study_id]
        for name, dist in dists.items():
            info.param_distribution.setdefault(name, dist)
        trial_id = self._max_trial_id + 1
        self._max_trial_id = trial_id
        number = len(info.trials)
        state = _STATES[op.get("state", 0)]
        trial = FrozenTrial(
            trial_id=trial_id,
            number=number,
            state=state,
            params={k: dists[k].to_external_repr(p) for k, p in (op.get("params") or {}).items()},
            distributions=dists,
            user_attrs=op.get("user_attrs", {}),
            system_attrs=op.get("system_attrs", {}),
            value=op.get("value"),
            intermediate_values={int(k): v for k, v in op.get("intermediate_values", {}).items()},
            datetime_start=self._times.local(op["datetime_start"]),
            datetime_complete=self._times.local(op.get("datetime_complete")),
            values=op.get("values"),
        )
        self._trial_id_to_study_id_and_number[trial_id] = (study_id, number)
        info.trials.append(trial)
        if state == TrialState.COMPLETE:
            self._update_cache(trial_id, study_id)
        return trial_id

    def _update_trial(self, code: int, trial_id: int, op: dict[str, Any]) -> None:
        trial = copy.copy(self._get_trial(trial_id))
        if code == _SET_PARAM:
            name = op["param_name"]
            dist = op["distribution"]
            dist = self._distribution(dist) if isinstance(dist, str) else dist
            info = self._studies[self._trial_id_to_study_id_and_number[trial_id][0]]
            if name in info.param_distribution:
                try:
                    check_distribution_compatibility(info.param_distribution[name], dist)
                except ValueError:
                    return  # Optuna's replay ignores it
            info.param_distribution.setdefault(name, dist)
            trial.params = {**trial.params, name: dist.to_external_repr(op["param_value_internal"])}
            trial.distributions = {**trial.distributions, name: dist}
        elif code == _SET_STATE:
            state = TrialState(op["state"])
            if state == trial.state == TrialState.RUNNING:
                return
            if state == TrialState.RUNNING:
                trial.datetime_start = self._times.local(op["datetime_start"])
            if state.is_finished():
                trial.datetime_complete = self._times.local(op["datetime_complete"])
            trial.state = state
            if op["values"] is not None:
                trial.values = op["values"]
        elif code == _SET_INTERMEDIATE:
            trial.intermediate_values = {**trial.intermediate_values, op["step"]: op["intermediate_value"]}
        elif code == _SET_USER_ATTR:
            trial.user_attrs = {**trial.user_attrs, **op["user_attr"]}
        else:
            trial.system_attrs = {**trial.system_attrs, **op["system_attr"]}
        self._set_trial(trial_id, trial)
        if trial.state.is_finished():
            self._update_cache(trial_id, self._trial_id_to_study_id_and_number[trial_id][0])

    # ------------------------------------------------------------------------------------------ writing

    def _write(self, op_code: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Append the operation's journal line; the operation as the journal's replay reads it back."""
        line = _line({"op_code": op_code, "worker_id": self._worker_id, **fields})
        op: dict[str, Any] = json.loads(line)
        self.backend.append_line(line)
        return op

    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        with self._lock:
            study_id = super().create_new_study(directions, study_name)  # refuses a name held already
            name = self._studies[study_id].name
            self._write(_CREATE_STUDY, {"study_name": name, "directions": list(directions)})
            return study_id

    def delete_study(self, study_id: int) -> None:
        raise NotImplementedError("a study's journal in the store is never deleted from")

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._check_study_id(study_id)
            self._apply(self._write(_SET_STUDY_USER_ATTR, {"study_id": study_id, "user_attr": {key: value}}))

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._check_study_id(study_id)
            self._apply(self._write(_SET_STUDY_SYSTEM_ATTR, {"study_id": study_id, "system_attr": {key: value}}))

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        with self._lock:
            self._check_study_id(study_id)
            now = datetime.now(tz=timezone.utc).isoformat(timespec="microseconds")
            log: dict[str, Any] = {"study_id": study_id, "datetime_start": now}
            if template_trial is not None:
                log.update(_template_fields(template_trial))
            return self._create_trial(self._write(_CREATE_TRIAL, log))

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        with self._lock:
            trial = self._get_trial(trial_id)
            self.check_trial_is_updatable(trial_id, trial.state)
            info = self._studies[self._trial_id_to_study_id_and_number[trial_id][0]]
            if param_name in info.param_distribution:
                check_distribution_compatibility(info.param_distribution[param_name], distribution)
            op = self._write(_SET_PARAM, {"trial_id": trial_id, "param_name": param_name,
                                          "param_value_internal": param_value_internal,
                                          "distribution": distribution_to_json(distribution)})
            op["distribution"] = distribution  # equal to the one its JSON gives
            self._update_trial(_SET_PARAM, trial_id, op)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        with self._lock:
            trial = self._get_trial(trial_id)
            self.check_trial_is_updatable(trial_id, trial.state)
            if state == TrialState.RUNNING and trial.state != TrialState.WAITING:
                return False
            log: dict[str, Any] = {"trial_id": trial_id, "state": state, "values": values}
            now = datetime.now(tz=timezone.utc).isoformat(timespec="microseconds")
            if state == TrialState.RUNNING:
                log["datetime_start"] = now
            elif state.is_finished():
                log["datetime_complete"] = now
            self._update_trial(_SET_STATE, trial_id, self._write(_SET_STATE, log))
            return True

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            op = self._write(_SET_INTERMEDIATE, {"trial_id": trial_id, "step": step,
                                                 "intermediate_value": intermediate_value})
            op["step"] = step  # the journal's replay keeps the step as given (an int)
            self._update_trial(_SET_INTERMEDIATE, trial_id, op)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            self._update_trial(_SET_USER_ATTR, trial_id,
                               self._write(_SET_USER_ATTR, {"trial_id": trial_id, "user_attr": {key: value}}))

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            self._update_trial(_SET_SYSTEM_ATTR, trial_id,
                               self._write(_SET_SYSTEM_ATTR, {"trial_id": trial_id, "system_attr": {key: value}}))


def _template_fields(template: FrozenTrial) -> dict[str, Any]:
    """A template trial's fields in a create-trial operation (as ``JournalStorage.create_new_trial`` writes them)."""
    log: dict[str, Any] = {"state": template.state}
    if template.values is not None and len(template.values) > 1:
        log["value"] = None
        log["values"] = template.values
    else:
        log["value"] = template.value
        log["values"] = None
    if template.datetime_start:
        log["datetime_start"] = template.datetime_start.astimezone(timezone.utc).isoformat(timespec="microseconds")
    else:
        log["datetime_start"] = None
    if template.datetime_complete:
        log["datetime_complete"] = template.datetime_complete.astimezone(timezone.utc).isoformat(
            timespec="microseconds")
    log["distributions"] = {k: distribution_to_json(d) for k, d in template.distributions.items()}
    log["params"] = {k: template.distributions[k].to_internal_repr(p) for k, p in template.params.items()}
    log["user_attrs"] = template.user_attrs
    log["system_attrs"] = template.system_attrs
    log["intermediate_values"] = template.intermediate_values
    return log
