"""How a shard reaches the store (issue 13): its equity blob is streamed in parts, never joined into one
more copy of itself, and a serial sweep writes each shard while it evaluates the next one — with the
same bytes and the same complete-or-absent steps as one shard at a time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import experiment_config
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import ExperimentInputs, build_plan, load_inputs, run_shard, run_shards
from trading_runtime.planning import Plan
from trading_runtime.store import LocalStore, is_complete, read_complete
from trading_runtime.strategies.sma_cross import SmaCross

# The base experiment (12 SMA pairs × 5 walk-forward folds = 60 runs) in 4 shards of 15 runs.
CONFIG = experiment_config(shards={"runs_per_shard": 15})


def _inputs() -> tuple[Plan, ExperimentInputs]:
    inputs = load_inputs(ExperimentConfig.model_validate(CONFIG), "exp.json", Path.cwd())
    return build_plan(inputs), inputs


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class _RecordingStore(LocalStore):
    """A local store that records which keys were written whole (put_bytes) and which in parts."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.whole: list[str] = []
        self.in_parts: dict[str, int] = {}

    def put_bytes(self, key: str, data: bytes) -> None:
        self.whole.append(key)
        super().put_bytes(key, data)

    def put_parts(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        self.in_parts[key] = len(parts)
        super().put_parts(key, parts)


def test_the_equity_blob_is_streamed_to_a_local_store_in_parts(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    store = _RecordingStore(tmp_path / "store")
    sid = plan.shards[0].shard_id
    run_shard(store, plan, sid, inputs)
    equity_key = plan.keys.shard_equity(sid)
    assert equity_key not in store.whole
    assert store.in_parts[equity_key] > 1  # timestamps and equity series, as the kept arrays' views
    result = json.loads(read_complete(store, plan.keys.shard_result(sid)))
    blob = store.get_bytes(equity_key)
    assert (len(blob), hashlib.sha256(blob).hexdigest()) == (result["equity"]["size"], result["equity"]["sha256"])


def test_put_parts_stores_the_concatenation(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_parts("a/blob", [b"ab", memoryview(b"cde"), b"", memoryview(bytearray(b"f"))])
    store.put_bytes("a/whole", b"abcdef")
    assert store.get_bytes("a/blob") == store.get_bytes("a/whole") == b"abcdef"
    assert store.list_keys() == ["a/blob", "a/whole"]


def test_overlapped_writes_store_the_same_bytes_as_one_shard_at_a_time(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    ids = [s.shard_id for s in plan.shards]
    assert len(ids) == 4
    one_by_one = LocalStore(tmp_path / "one")
    for sid in ids:
        run_shard(one_by_one, plan, sid, inputs)
    overlapped = LocalStore(tmp_path / "overlapped")
    done: list[tuple[str, int]] = []
    run_shards(overlapped, plan, ids, inputs, lambda sid, n: done.append((sid, n)))
    assert done == [(s.shard_id, len(s.run_ids)) for s in plan.shards]
    assert _files(tmp_path / "overlapped") == _files(tmp_path / "one")
    assert all(is_complete(overlapped, plan.keys.shard_result(sid)) for sid in ids)


class _Signalling(SmaCross):
    """SmaCross that tells the test when a target is computed while a shard's write is held."""

    writing = threading.Event()
    evaluating_during_write = threading.Event()

    def target(self, bars: Any, cache: Any) -> Any:
        if self.writing.is_set():
            self.evaluating_during_write.set()
        return super().target(bars, cache)


class _HeldStore(LocalStore):
    """Holds the first shard's equity write until the next shard is being evaluated (or 60 s pass)."""

    def __init__(self, root: Path, held: str) -> None:
        super().__init__(root)
        self.held, self.overlapped = held, False

    def put_parts(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        if key == self.held:
            _Signalling.writing.set()
            self.overlapped = _Signalling.evaluating_during_write.wait(60)
            _Signalling.writing.clear()
        super().put_parts(key, parts)


def test_the_next_shard_is_evaluated_while_a_shard_is_written(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    inputs = ExperimentInputs(**{**vars(inputs), "strategy_cls": _Signalling})
    ids = [s.shard_id for s in plan.shards]
    store = _HeldStore(tmp_path / "store", plan.keys.shard_equity(ids[0]))
    run_shards(store, plan, ids, inputs, lambda sid, n: None)
    assert store.overlapped
    assert all(is_complete(store, plan.keys.shard_result(sid)) for sid in ids)


class _FailingStore(LocalStore):
    def __init__(self, root: Path, failing: str) -> None:
        super().__init__(root)
        self.failing = failing

    def put_parts(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        if key == self.failing:
            raise RuntimeError("disk on fire")
        super().put_parts(key, parts)


def test_a_failed_write_records_failed_json_and_stops_after_the_write_in_flight(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    ids = [s.shard_id for s in plan.shards]
    store = _FailingStore(tmp_path / "store", plan.keys.shard_equity(ids[1]))
    done: list[str] = []
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_shards(store, plan, ids, inputs, lambda sid, n: done.append(sid))
    assert done == [ids[0]]
    assert is_complete(store, plan.keys.shard_result(ids[0]))
    assert [is_complete(store, plan.keys.shard_result(sid)) for sid in ids[1:]] == [False, False, False]
    failure = json.loads(store.get_bytes(plan.keys.shard_failure(ids[1])))
    assert failure["error"] == "RuntimeError: disk on fire"
    assert not store.exists(plan.keys.shard_failure(ids[2]))
