"""How a shard and finalize reach the store (issue 13): a shard writes only its result and marker; the
curves finalize derives are streamed to the store in parts, never joined into one more copy of themselves,
with the same bytes and checksum as when joined.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path

from tests.experiment_support import experiment_config, tree_files
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.curves import derive_curves
from trading_runtime.execution.experiment import ExperimentInputs, build_plan, load_inputs, run_shard
from trading_runtime.orchestration.finalize import finalize
from trading_runtime.planning import Plan, write_plan
from trading_runtime.planning.curves import write_curves
from trading_runtime.store import LocalStore, read_complete

# The base experiment (12 SMA pairs × 5 walk-forward folds = 60 runs) in shards of 15 runs.
CONFIG = experiment_config(shards={"runs_per_shard": 15})
PROVENANCE = {"runtime": {"version": "test"}}


def _inputs() -> tuple[Plan, ExperimentInputs]:
    inputs = load_inputs(ExperimentConfig.model_validate(CONFIG), "exp.json", Path.cwd())
    return build_plan(inputs), inputs


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


def test_a_shard_writes_its_result_and_marker_only(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    store = LocalStore(tmp_path / "store")
    for shard in plan.shards:
        run_shard(store, plan, shard.shard_id, inputs)
    assert sorted(tree_files(store.root)) == sorted(
        key for shard in plan.shards for key in (plan.keys.shard_result(shard.shard_id),
                                                 plan.keys.shard_result(shard.shard_id) + ".SUCCESS"))


def test_the_curves_blob_is_streamed_to_a_local_store_in_parts(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    store = _RecordingStore(tmp_path / "store")
    write_plan(store, plan, exclusive=True)
    for shard in plan.shards:
        run_shard(store, plan, shard.shard_id, inputs)
    finalize(store, plan.experiment_id, PROVENANCE)
    key = plan.keys.curves_blob
    assert key not in store.whole
    assert store.in_parts[key] > 1  # timestamps and equity series, as the derived arrays' views
    index = json.loads(read_complete(store, plan.keys.curves))
    blob = store.get_bytes(key)
    assert (len(blob), hashlib.sha256(blob).hexdigest()) == (index["size"], index["sha256"])
    assert len(index["series"]) == 2 * 2 * 5  # top_k 2 × both segments × 5 folds


def test_put_parts_stores_the_concatenation(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_parts("a/blob", [b"ab", memoryview(b"cde"), b"", memoryview(bytearray(b"f"))])
    store.put_bytes("a/whole", b"abcdef")
    assert store.get_bytes("a/blob") == store.get_bytes("a/whole") == b"abcdef"
    assert store.list_keys() == ["a/blob", "a/whole"]


class _WholeOnly:
    """A store with only the protocol's ``put_bytes`` (no ``put_parts``): ``put_parts`` joins for it."""

    def __init__(self, inner: LocalStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.put_bytes, self.get_bytes = inner.put_bytes, inner.get_bytes
        self.exists, self.delete, self.list_keys = inner.exists, inner.delete, inner.list_keys


def test_streamed_curves_store_the_same_bytes_as_joined_ones(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    run_ids = [run.run_id for run in plan.runs[::7]]
    curves = derive_curves(plan, inputs, run_ids)
    fold_of = {run.run_id: run.fold for run in plan.runs}
    write_curves(LocalStore(tmp_path / "streamed"), plan.keys, curves, fold_of)
    write_curves(_WholeOnly(LocalStore(tmp_path / "joined")), plan.keys, curves, fold_of)  # type: ignore[arg-type]
    streamed = tree_files(tmp_path / "streamed")
    assert sorted(streamed) == [plan.keys.curves_blob, plan.keys.curves, plan.keys.curves + ".SUCCESS"]
    assert streamed == tree_files(tmp_path / "joined")


class _ThreadsWhileWriting(LocalStore):
    """A local store that notes the threads alive while each object is written."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.threads: dict[str, list[str]] = {}

    def put_parts(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        self.threads[key] = [t.name for t in threading.enumerate()]
        super().put_parts(key, parts)


def test_the_curves_blob_is_hashed_on_a_thread_while_it_is_written(tmp_path: Path) -> None:
    """``write_curves`` hashes the blob (for curves.json) on a thread of its own while the blob is written, and
    writes the index only after both: curves.json names the sha256 of the blob written, no thread is left."""
    plan, inputs = _inputs()
    curves = derive_curves(plan, inputs, [run.run_id for run in plan.runs[::9]])
    store = _ThreadsWhileWriting(tmp_path)
    sha256 = write_curves(store, plan.keys, curves, {run.run_id: run.fold for run in plan.runs})
    assert any(name.startswith("curves-sha256") for name in store.threads[plan.keys.curves_blob])
    assert not any(name.startswith("curves-sha256") for name in store.threads[plan.keys.curves])  # hashed by then
    assert not any(t.name.startswith("curves-sha256") for t in threading.enumerate())
    index = json.loads(read_complete(store, plan.keys.curves))
    assert index["sha256"] == sha256 == hashlib.sha256((tmp_path / plan.keys.curves_blob).read_bytes()).hexdigest()
