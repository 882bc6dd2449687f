"""A study's Optuna journal in memory: its lines, and the fold of a told generation into one line per trial.

The lines are those of Optuna's ``JournalFileBackend`` (one JSON operation per line); the storage a step
reads them into and writes them from is ``optimize/journal_storage.py``.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Mapping
from typing import Any

from optuna.storages.journal import BaseJournalBackend

__all__ = ["BytesJournalBackend", "compact_journal", "journal_line"]


class BytesJournalBackend(BaseJournalBackend):
    """An Optuna journal held in memory as the lines of a journal file."""

    def __init__(self, data: bytes = b"") -> None:
        self._lines: list[bytes] = []
        # line index → the operation that line holds, as parsed when this process wrote it (the fold reads these
        # instead of parsing the line again; never mutated)
        self._parsed: dict[int, dict[str, Any]] = {}
        self._own: set[int] = set()  # lines this process encoded (journal_line) from their operation in _parsed
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
        self._lines.extend(journal_line(entry) for entry in logs)
        self.changed = True

    def append_line(self, line: bytes, parsed: dict[str, Any] | None = None) -> None:
        """Append a line; ``parsed``: its operation as ``json.loads`` gives it (kept for the fold, never mutated), the
        line being ``journal_line`` of it."""
        if parsed is not None:
            self._parsed[len(self._lines)] = parsed
            self._own.add(len(self._lines))
        self._lines.append(line)
        self.changed = True

    def keep_parsed(self, index: int, parsed: dict[str, Any]) -> None:
        """Keep line ``index``'s operation as ``json.loads`` gives it (read by a step: the fold need not parse it
        again; never mutated)."""
        self._parsed[index] = parsed

    def dump(self, start: int = 0, stop: int | None = None) -> bytes:
        """The journal file's bytes of lines ``start`` … ``stop`` - 1 (default: all)."""
        return b"".join(self._lines[start:stop])

    def count_trials(self) -> int:
        """The number of trial creations in the journal."""
        return sum(1 for line in self._lines if line.startswith(CREATE_PREFIX))

    def compact(self, first_trial_id: int, start: int | None = None) -> bool:
        folded = compact_journal(self._lines, first_trial_id, self._parsed, start, self._own)
        if folded is None:
            return False
        self._lines = folded
        self._parsed = {}
        self._own = set()
        self.changed = True
        return True

    def __len__(self) -> int:
        return len(self._lines)


# json.dumps(entry, separators=(",", ":")), without making the encoder anew for every line
_encode = json.JSONEncoder(separators=(",", ":")).encode


def journal_line(entry: dict[str, Any]) -> bytes:
    return (_encode(entry) + "\n").encode("utf-8")


# Journal operation codes (optuna.storages.journal._storage.JournalOperation).
CREATE_STUDY, SET_STUDY_USER_ATTR, SET_STUDY_SYSTEM_ATTR = 0, 2, 3
STUDY_OPS = (CREATE_STUDY, SET_STUDY_USER_ATTR, SET_STUDY_SYSTEM_ATTR)
CREATE_TRIAL, SET_PARAM, SET_STATE, SET_INTERMEDIATE, SET_USER_ATTR, SET_SYSTEM_ATTR = 4, 5, 6, 7, 8, 9
CREATE_PREFIX = b'{"op_code":4,'  # how a create-trial line starts (the line format of journal_line)
FINISHED_STATES = (1, 2, 3)  # COMPLETE, PRUNED, FAIL
_USER_ATTR_KEYS = ["op_code", "worker_id", "trial_id", "user_attr"]  # a set-user-attribute operation's, in order
_USER_ATTR = b',"user_attr":'
_EMPTY = b"{}"


def compact_journal(lines: list[bytes], first_trial_id: int, parsed: Mapping[int, dict[str, Any]] | None = None,
                    start: int | None = None, own: Container[int] = ()) -> list[bytes] | None:
    """The journal with every operation from the creation of trial ``first_trial_id`` on folded into one
    create-trial operation per trial (params, state, values, attributes, times: what Optuna's replay of the
    original operations yields; ``user_attrs`` its last key), study operations kept before them. None when it
    cannot (a trial still running, an operation on an earlier trial, an unknown operation): the journal is
    then kept as it is.

    A told generation thus costs one journal line per trial instead of one per parameter, attribute and
    state change, which makes the next step's read several times faster. ``parsed``: line index → that line's
    operation, parsed already (the lines this process wrote; not mutated here). ``start``: the creation of trial
    ``first_trial_id`` is the first one from this line on (the lines before may lack trials' creations: a tell's
    held told objects); by default it is found by counting the creations from the first line. ``own``: lines of
    ``parsed`` that are ``journal_line`` of their operation (this process's): a trial's user attributes set by one
    such line (a tell's evaluation) are that line's text in the folded line, not encoded again (the same bytes: the
    encoder writes a value alike wherever it sits in a line).
    """
    parsed = parsed or {}
    creates = 0 if start is None else first_trial_id
    boundary = None
    for i in range(start or 0, len(lines)):
        if lines[i].startswith(CREATE_PREFIX):
            if creates == first_trial_id:
                boundary = i
                break
            creates += 1
    if boundary is None:
        return None
    study_lines: list[bytes] = []
    trials: dict[int, dict[str, Any]] = {}
    texts: dict[int, bytes | None] = {}  # trial id → its user attributes' JSON text, when known (else None)
    next_id = first_trial_id
    for i in range(boundary, len(lines)):
        op = parsed.get(i)
        if op is None:
            op = json.loads(lines[i])
        code = op.get("op_code")
        if code in STUDY_OPS:
            study_lines.append(lines[i])
            continue
        if code == CREATE_TRIAL:
            created = dict(op)
            for key in ("params", "distributions", "user_attrs", "system_attrs", "intermediate_values"):
                created[key] = dict(created.get(key) or {})
            trials[next_id] = created
            texts[next_id] = _EMPTY if not created["user_attrs"] else None
            next_id += 1
            continue
        trial_id = int(op.get("trial_id", -1))
        target = trials.get(trial_id)
        if target is None:
            return None
        t = target
        if t.get("state") in FINISHED_STATES:
            continue  # Optuna's replay ignores changes to a finished trial
        if code == SET_PARAM:
            t["params"][op["param_name"]] = op["param_value_internal"]
            t["distributions"][op["param_name"]] = op["distribution"]
        elif code == SET_STATE:
            t["state"] = op["state"]
            if op.get("values") is not None:
                t["values"] = op["values"]
            for key in ("datetime_start", "datetime_complete"):
                if key in op:
                    t[key] = op[key]
        elif code == SET_INTERMEDIATE:
            t["intermediate_values"][str(op["step"])] = op["intermediate_value"]
        elif code == SET_USER_ATTR:
            t["user_attrs"].update(op["user_attr"])
            # Its text is the line's after the key (the last; a key's quote follows a comma nowhere inside a string)
            known = i in own and texts[trial_id] == _EMPTY and list(op) == _USER_ATTR_KEYS
            texts[trial_id] = lines[i][lines[i].index(_USER_ATTR) + len(_USER_ATTR):-2] if known else None
        elif code == SET_SYSTEM_ATTR:
            t["system_attrs"].update(op["system_attr"])
        else:
            return None
    if any(t.get("state") not in FINISHED_STATES for t in trials.values()):
        return None
    folded = [_folded_line(trials[i], texts[i]) for i in sorted(trials)]
    return lines[:boundary] + study_lines + folded


def _folded_line(trial: dict[str, Any], user_attrs: bytes | None) -> bytes:
    """A folded trial's line, ``user_attrs`` last (``user_attrs``: their JSON text when known)."""
    head = {k: v for k, v in trial.items() if k != "user_attrs"}
    if user_attrs is None:
        return journal_line({**head, "user_attrs": trial["user_attrs"]})
    return journal_line(head)[:-2] + b',"user_attrs":' + user_attrs + b"}\n"
