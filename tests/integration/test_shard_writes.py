"""How a shard reaches the store (issue 13): its equity blob is streamed in parts, never joined into one
more copy of itself, with the same bytes and checksum as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from tests.experiment_support import experiment_config
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import ExperimentInputs, build_plan, load_inputs, run_shard
from trading_runtime.planning import Plan
from trading_runtime.store import LocalStore, read_complete

# The base experiment (12 SMA pairs × 5 walk-forward folds = 60 runs) in shards of 15 runs.
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


class _WholeOnly:
    """A store with only the protocol's ``put_bytes`` (no ``put_parts``): ``put_parts`` joins for it."""

    def __init__(self, inner: LocalStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.put_bytes, self.get_bytes = inner.put_bytes, inner.get_bytes
        self.exists, self.delete, self.list_keys = inner.exists, inner.delete, inner.list_keys


def test_a_streamed_shard_stores_the_same_bytes_as_a_joined_one(tmp_path: Path) -> None:
    plan, inputs = _inputs()
    for shard in plan.shards:
        run_shard(LocalStore(tmp_path / "streamed"), plan, shard.shard_id, inputs)
        run_shard(_WholeOnly(LocalStore(tmp_path / "joined")), plan, shard.shard_id, inputs)  # type: ignore[arg-type]
    streamed = _files(tmp_path / "streamed")
    assert len(streamed) == 3 * len(plan.shards)  # equity blob, result, marker per shard
    assert streamed == _files(tmp_path / "joined")
