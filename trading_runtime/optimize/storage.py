"""Where a study's Optuna storage lives.

Generation mode keeps the storage **in the artifact store** as one object — an Optuna journal
(default) or an SQLite file — so pods share nothing but the store. A coordinator step opens it
with :func:`stored_storage`: read (marker-verified), act, write back with ``write_complete`` (the
old object stays until the new one is whole). Only the coordinator steps (init, ask, tell,
finalize, verify) do this, one at a time.

The journal is kept in memory while a step runs (no file locks, no fsync per operation) and is
written back as an ordinary Optuna journal file: ``JournalFileBackend`` reads it as it is. Within
one process the opened storage is reused by the next step while the stored object's sha256 is the
one this process wrote (what the local all-in-one does between generations); a changed object is
read again.

The storage holds Optuna's own wall-clock times (``datetime_start``/``datetime_complete``): they
never reach a result document. Async mode opens a shared storage by URL (:func:`open_url_storage`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalFileOpenLock

from trading_runtime.errors import InputError, TransientError
from trading_runtime.redaction import redact
from trading_runtime.store import (
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    CorruptArtifactError,
    marker_key,
    read_complete,
    write_complete,
)

__all__ = ["BytesJournalBackend", "StorageFormat", "forget_cached_storages", "open_url_storage", "stored_storage"]

log = logging.getLogger(__name__)

StorageFormat = Literal["journal", "sqlite"]
_SCHEMA_ATTEMPTS = 5


class BytesJournalBackend(BaseJournalBackend):
    """An Optuna journal held in memory as the lines of a journal file."""

    def __init__(self, data: bytes = b"") -> None:
        self._lines: list[bytes] = data.splitlines(keepends=True)
        if self._lines and not self._lines[-1].endswith(b"\n"):
            raise ValueError("journal: the last line is incomplete")
        self.changed = False

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        for line in self._lines[log_number_from:]:
            yield json.loads(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        # The exact line format of JournalFileBackend.append_logs.
        self._lines.extend((json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8") for entry in logs)
        self.changed = True

    def dump(self) -> bytes:
        return b"".join(self._lines)

    def compact(self, first_trial_id: int) -> bool:
        folded = compact_journal(self._lines, first_trial_id)
        if folded is None:
            return False
        self._lines = folded
        self.changed = True
        return True

    def __len__(self) -> int:
        return len(self._lines)


# Journal operation codes (optuna.storages.journal._storage.JournalOperation).
_STUDY_OPS = (0, 2, 3)  # create study, set study user attr, set study system attr
_CREATE_TRIAL, _SET_PARAM, _SET_STATE, _SET_INTERMEDIATE, _SET_USER_ATTR, _SET_SYSTEM_ATTR = 4, 5, 6, 7, 8, 9
_CREATE_PREFIX = b'{"op_code":4,'
_FINISHED_STATES = (1, 2, 3)  # COMPLETE, PRUNED, FAIL


def compact_journal(lines: list[bytes], first_trial_id: int) -> list[bytes] | None:
    """The journal with every operation from the creation of trial ``first_trial_id`` on folded into one
    create-trial operation per trial (params, state, values, attributes, times: what Optuna's replay of the
    original operations yields), study operations kept before them. None when it cannot (a trial still
    running, an operation on an earlier trial, an unknown operation): the journal is then kept as it is.

    A told generation thus costs one journal line per trial instead of one per parameter, attribute and
    state change, which makes the next step's replay several times faster.
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
    folded = [(json.dumps(trials[i], separators=(",", ":")) + "\n").encode("utf-8") for i in sorted(trials)]
    return lines[:boundary] + study_lines + folded


@dataclass
class _Open:
    sha256: str
    storage: JournalStorage
    backend: BytesJournalBackend


_CACHE: dict[tuple[str, str], _Open] = {}


def forget_cached_storages() -> None:
    _CACHE.clear()


def _stored_sha256(store: ArtifactStore, key: str) -> str | None:
    try:
        marker = json.loads(store.get_bytes(marker_key(key)))
    except ArtifactNotFoundError:
        return None
    except ValueError:
        return ""  # unreadable marker: read_complete will say why
    return str(marker.get("sha256", "")) if isinstance(marker, dict) else ""


def _read(store: ArtifactStore, key: str) -> bytes:
    try:
        return read_complete(store, key)
    except CorruptArtifactError as e:
        raise CorruptArtifactError(e.uri, e.key, f"{e.problem} (the study's storage)") from None


@contextlib.contextmanager
def stored_storage(store: ArtifactStore, key: str, storage_format: StorageFormat, *, create: bool = False,
                   write: bool = True, compact_from: int | None = None) -> Iterator[BaseStorage]:
    """The study storage at ``key``; written back on a clean exit when it changed (and ``write``).

    ``compact_from``: a journal's operations from that trial on are folded (:func:`compact_journal`)
    before it is written back.
    """
    if storage_format == "journal":
        with _journal(store, key, create, write, compact_from) as storage:
            yield storage
    else:
        with _sqlite(store, key, create, write) as storage:
            yield storage


@contextlib.contextmanager
def _journal(store: ArtifactStore, key: str, create: bool, write: bool,
             compact_from: int | None) -> Iterator[BaseStorage]:
    cache_key = (store.uri, key)
    sha = _stored_sha256(store, key)
    if sha is None and not create:
        raise ArtifactMissingError(store.uri, key)
    cached = _CACHE.pop(cache_key, None)
    if cached is not None and sha is not None and cached.sha256 == sha:
        opened = cached
        opened.backend.changed = False
    else:
        data = _read(store, key) if sha is not None else b""
        backend = BytesJournalBackend(data)
        opened = _Open(hashlib.sha256(data).hexdigest(), JournalStorage(backend), backend)
    yield opened.storage
    # Reached only on a clean exit: on an exception the half-changed storage is dropped.
    if opened.backend.changed or sha is None:
        if not write:
            return
        if compact_from is not None and opened.backend.compact(compact_from):
            replay = getattr(opened.storage, "_replay_result", None)
            if replay is None or not hasattr(replay, "log_number_read"):
                # Cannot tell the open storage its journal was folded: write, but do not reuse it.
                write_complete(store, key, opened.backend.dump())
                return
            replay.log_number_read = len(opened.backend)  # same state, fewer lines
        payload = opened.backend.dump()
        write_complete(store, key, payload)
        opened.sha256 = hashlib.sha256(payload).hexdigest()
        opened.backend.changed = False
    _CACHE[cache_key] = opened


@contextlib.contextmanager
def _sqlite(store: ArtifactStore, key: str, create: bool, write: bool) -> Iterator[BaseStorage]:
    sha = _stored_sha256(store, key)
    if sha is None and not create:
        raise ArtifactMissingError(store.uri, key)
    original = _read(store, key) if sha is not None else b""
    with tempfile.TemporaryDirectory(prefix="trading-runtime-study-") as tmp:
        path = Path(tmp) / "study.sqlite3"
        if original:
            path.write_bytes(original)
        storage = RDBStorage(f"sqlite:///{path}")
        try:
            yield storage
        finally:
            storage.engine.dispose()
        payload = path.read_bytes()
        if write and payload != original:
            write_complete(store, key, payload)


def open_url_storage(url: str, base_dir: Path) -> BaseStorage:
    """A shared storage for async workers.

    ``postgresql://user@host:port/db`` (any SQLAlchemy URL Optuna's RDB storage takes:
    ``sqlite:///path``, ``mysql://``…) or ``journal:PATH`` (``journal:///abs/file.log``,
    ``journal:relative.log``: an Optuna journal file, with file locks, on a filesystem every
    worker sees).
    """
    if url.startswith("journal:"):
        rest = url[len("journal:"):]
        rest = rest[2:] if rest.startswith("//") else rest
        if not rest:
            raise InputError(f"--storage: {url!r}: no file path (expected journal:///abs/path.log or journal:path.log)")
        path = Path(rest)
        if not path.is_absolute():
            path = base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in ("postgresql", "postgres", "sqlite", "mysql"):
        raise InputError(f"--storage: {url!r}: expected postgresql://…, sqlite:///path, mysql://… or journal:path")
    given = url
    head = url.split("://", 1)[0].lower()
    if head in ("postgres", "postgresql"):  # no driver named: psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)
        url = "postgresql+psycopg2" + url[len(head):]
    import sqlalchemy.exc

    try:
        for attempt in range(_SCHEMA_ATTEMPTS):
            try:
                return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers starting together on an empty database race to create Optuna's tables;
                # the loser finds them on the next attempt.
                if attempt + 1 == _SCHEMA_ATTEMPTS:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
    except ImportError as e:
        raise InputError(f"--storage: {redact(given)}: its database driver is not installed ({e})") from None
    except sqlalchemy.exc.OperationalError as e:
        first = str(e.orig if e.orig is not None else e).strip().splitlines()[0]
        raise TransientError(f"--storage: cannot reach {redact(given)}: {first}") from None


def journal_logs(data: bytes) -> Iterable[dict[str, Any]]:
    """The operations of a journal file (for tools and tests)."""
    return BytesJournalBackend(data).read_logs(0)
