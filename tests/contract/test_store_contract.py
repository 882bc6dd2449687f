"""The ArtifactStore contract: every backend (memory, local, S3 on a real server) must pass it all."""

from __future__ import annotations

import hashlib
import json

import pytest

from trading_runtime.errors import EXIT_VERIFICATION, VerificationError
from trading_runtime.store import (
    MARKER_SUFFIX,
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    CorruptArtifactError,
    is_complete,
    marker_key,
    open_store,
    read_complete,
    write_complete,
)
from trading_runtime.store.markers import staged_key
from trading_runtime.store.sealed import read_sealed, sealed_key, write_sealed

SHARD_KEY = "experiments/exp-1/shards/shard-00003/result.json"


def test_store_satisfies_the_protocol(store: ArtifactStore) -> None:
    assert isinstance(store, ArtifactStore)


def test_roundtrip(store: ArtifactStore) -> None:
    store.put_bytes(SHARD_KEY, b'{"sharpe": 1.25}\n')
    assert store.get_bytes(SHARD_KEY) == b'{"sharpe": 1.25}\n'
    assert store.exists(SHARD_KEY)


def test_overwrite_replaces_the_whole_object(store: ArtifactStore) -> None:
    store.put_bytes("plan.json", b"first version, longer than the second")
    store.put_bytes("plan.json", b"second")
    assert store.get_bytes("plan.json") == b"second"
    assert store.list_keys() == ["plan.json"]


def test_missing_key_raises_not_found_naming_store_and_key(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError) as info:
        store.get_bytes("experiments/exp-1/plan.json")
    error = info.value
    assert isinstance(error, KeyError)
    assert error.key == "experiments/exp-1/plan.json"
    assert error.uri == store.uri
    assert str(error) == f"store: no artifact 'experiments/exp-1/plan.json' in {store.uri}"


def test_exists_and_delete(store: ArtifactStore) -> None:
    assert not store.exists("a/b.bin")
    store.put_bytes("a/b.bin", b"x")
    store.put_bytes("a/c.bin", b"y")
    assert store.exists("a/b.bin")
    assert not store.exists("a")  # a "directory" of keys is not an object
    store.delete("a/b.bin")
    assert not store.exists("a/b.bin")
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("a/b.bin")
    assert store.get_bytes("a/c.bin") == b"y"


def test_delete_of_an_absent_key_is_not_an_error(store: ArtifactStore) -> None:
    store.delete("never/written.json")
    store.put_bytes("k", b"v")
    store.delete("k")
    store.delete("k")
    assert store.list_keys() == []


def test_list_keys_is_sorted_and_filtered_by_string_prefix(store: ArtifactStore) -> None:
    assert store.list_keys() == []
    written = [
        "exp/shards/shard-00010/result.json",
        "exp/shards/shard-00002/result.json",
        "exp/plan.json",
        "exp/shards/shard-00002/result.json.SUCCESS",
        "exp2/plan.json",
        "zz.json",
        "exp/shards/shard-00001/result.json",
    ]
    for key in written:
        store.put_bytes(key, key.encode())
    assert store.list_keys() == sorted(written)
    assert store.list_keys("exp/shards/") == [
        "exp/shards/shard-00001/result.json",
        "exp/shards/shard-00002/result.json",
        "exp/shards/shard-00002/result.json.SUCCESS",
        "exp/shards/shard-00010/result.json",
    ]
    assert store.list_keys("exp/shards/shard-0000") == [
        "exp/shards/shard-00001/result.json",
        "exp/shards/shard-00002/result.json",
        "exp/shards/shard-00002/result.json.SUCCESS",
    ]
    assert store.list_keys("exp") == sorted(k for k in written if k.startswith("exp"))
    assert store.list_keys("exp/") == sorted(k for k in written if k.startswith("exp/"))
    assert store.list_keys("nothing/here/") == []


INVALID_KEYS = [
    "",
    "/abs/key",
    "a//b",
    "a/b/",
    "../escape",
    "a/../b",
    "a/./b",
    ".",
    "nul\x00byte",
    "a/.trstore-tmp-0123",
]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_refused_by_every_method(store: ArtifactStore, key: str) -> None:
    with pytest.raises(ValueError, match="store: invalid key"):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="store: invalid key"):
        store.get_bytes(key)
    with pytest.raises(ValueError, match="store: invalid key"):
        store.exists(key)
    with pytest.raises(ValueError, match="store: invalid key"):
        store.delete(key)
    assert store.list_keys() == []


@pytest.mark.parametrize("prefix", ["/abs", "a//b", "../x", "a/../"])
def test_invalid_list_prefixes_are_refused(store: ArtifactStore, prefix: str) -> None:
    with pytest.raises(ValueError, match="store: invalid prefix"):
        store.list_keys(prefix)


def test_binary_data_and_empty_objects_roundtrip(store: ArtifactStore) -> None:
    every_byte = bytes(range(256)) * 4 + b"\r\n\x00\xff"
    store.put_bytes("bin/every-byte", every_byte)
    store.put_bytes("bin/empty", b"")
    assert store.get_bytes("bin/every-byte") == every_byte
    assert store.get_bytes("bin/empty") == b""
    assert store.exists("bin/empty")


def test_large_object_roundtrip(store: ArtifactStore) -> None:
    # 4 MiB of non-repeating bytes (a sha256 chain), so truncation or reordering cannot go unnoticed.
    blocks = [hashlib.sha256(str(i).encode()).digest() for i in range(4 * 1024 * 1024 // 32)]
    payload = b"".join(blocks)
    store.put_bytes("big/trades.parquet", payload)
    assert hashlib.sha256(store.get_bytes("big/trades.parquet")).digest() == hashlib.sha256(payload).digest()


def test_uri_reopens_the_same_store(store: ArtifactStore) -> None:
    store.put_bytes("plan.json", b"{}\n")
    again = open_store(store.uri)
    assert again.uri == store.uri
    assert again.get_bytes("plan.json") == b"{}\n"


# -- complete-or-absent artifacts (payload + .SUCCESS marker) ------------------------------------


def test_write_complete_then_read_complete(store: ArtifactStore) -> None:
    payload = b'{"trades": 12}\n'
    write_complete(store, SHARD_KEY, payload)
    assert read_complete(store, SHARD_KEY) == payload
    assert is_complete(store, SHARD_KEY)
    assert store.list_keys("experiments/") == [SHARD_KEY, SHARD_KEY + ".SUCCESS"]


def test_marker_is_sorted_json_with_sha256_size_and_key(store: ArtifactStore) -> None:
    payload = b"payload bytes"
    write_complete(store, SHARD_KEY, payload)
    raw = store.get_bytes(marker_key(SHARD_KEY))
    expected = {"key": SHARD_KEY, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    assert raw == (json.dumps(expected, sort_keys=True) + "\n").encode()
    assert marker_key(SHARD_KEY) == SHARD_KEY + MARKER_SUFFIX == SHARD_KEY + ".SUCCESS"


def test_no_marker_means_missing(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactMissingError) as nothing:
        read_complete(store, SHARD_KEY)
    # A payload without its marker is an unfinished write: still missing.
    store.put_bytes(SHARD_KEY, b"half-done shard")
    with pytest.raises(ArtifactMissingError) as unmarked:
        read_complete(store, SHARD_KEY)
    for error in (nothing.value, unmarked.value):
        assert isinstance(error, VerificationError)
        assert error.exit_code == EXIT_VERIFICATION
        assert error.key == SHARD_KEY
        assert SHARD_KEY in str(error)
        assert store.uri in str(error)
    assert not is_complete(store, SHARD_KEY)


def test_payload_changed_after_marker_is_corrupt(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b'{"pnl": 100.0}\n')
    store.put_bytes(SHARD_KEY, b'{"pnl": 999.0}\n')  # same size, different bytes
    with pytest.raises(CorruptArtifactError) as info:
        read_complete(store, SHARD_KEY)
    assert isinstance(info.value, VerificationError)
    assert info.value.exit_code == EXIT_VERIFICATION
    assert info.value.key == SHARD_KEY
    assert "sha256" in str(info.value)
    assert SHARD_KEY in str(info.value)
    assert not is_complete(store, SHARD_KEY)


def test_truncated_payload_is_corrupt(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b"0123456789")
    store.put_bytes(SHARD_KEY, b"01234")
    with pytest.raises(CorruptArtifactError, match=r"size 5 != 10"):
        read_complete(store, SHARD_KEY)


def test_marker_without_payload_is_corrupt(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b"data")
    store.delete(SHARD_KEY)
    with pytest.raises(CorruptArtifactError, match="payload absent"):
        read_complete(store, SHARD_KEY)


@pytest.mark.parametrize(
    "marker",
    [
        b"not json",
        b"[]",
        b'{"sha256": "00", "size": 4}',
        b'{"key": "other/key.json", "sha256": "00", "size": 4}',
        b'{"key": "K", "sha256": 1, "size": "4"}',
    ],
)
def test_malformed_marker_is_corrupt(store: ArtifactStore, marker: bytes) -> None:
    store.put_bytes(SHARD_KEY, b"data")
    store.put_bytes(marker_key(SHARD_KEY), marker.replace(b'"K"', json.dumps(SHARD_KEY).encode()))
    with pytest.raises(CorruptArtifactError):
        read_complete(store, SHARD_KEY)
    assert not is_complete(store, SHARD_KEY)


def test_rewriting_identical_bytes_is_idempotent(store: ArtifactStore) -> None:
    payload = b'{"equity": [1.0, 1.01]}\n'
    write_complete(store, SHARD_KEY, payload)
    before = {key: store.get_bytes(key) for key in store.list_keys()}
    write_complete(store, SHARD_KEY, payload)  # a retried shard
    after = {key: store.get_bytes(key) for key in store.list_keys()}
    assert after == before
    assert read_complete(store, SHARD_KEY) == payload


def test_rewriting_different_bytes_yields_the_new_complete_artifact(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b"old result")
    write_complete(store, SHARD_KEY, b"new, longer result")
    assert read_complete(store, SHARD_KEY) == b"new, longer result"


# -- sealed objects (one put: payload + seal line; store/sealed.py) ------------------------------------

PLAN_KEY = "experiments/exp-1.g0003/plan.json"


def test_a_sealed_object_is_one_put_that_read_complete_reads_without_a_marker(store: ArtifactStore) -> None:
    payload = b'{"runs": [1, 2]}\n'
    write_sealed(store, PLAN_KEY, payload, "plan")
    assert store.list_keys("experiments/") == ["experiments/exp-1.g0003/plan.v2.json"]
    digest = hashlib.sha256(payload).hexdigest()
    assert store.get_bytes(sealed_key(PLAN_KEY)) == payload + f"#trading-runtime plan sha256={digest}\n".encode()
    assert read_complete(store, PLAN_KEY) == read_sealed(store, PLAN_KEY) == payload
    assert is_complete(store, PLAN_KEY)
    write_sealed(store, PLAN_KEY, b"{}\n", "plan")  # rewritten: one put again
    assert read_complete(store, PLAN_KEY) == b"{}\n"


@pytest.mark.parametrize("damage", ["edited", "truncated", "no seal"])
def test_a_sealed_object_that_does_not_match_its_seal_is_corrupt(store: ArtifactStore, damage: str) -> None:
    write_sealed(store, PLAN_KEY, b'{"runs": [1, 2]}\n', "plan")
    raw = store.get_bytes(sealed_key(PLAN_KEY))
    store.put_bytes(sealed_key(PLAN_KEY), {"edited": raw.replace(b"1", b"7", 1), "truncated": raw[:-5],
                                           "no seal": raw.split(b"#")[0]}[damage])
    with pytest.raises(CorruptArtifactError) as info:
        read_complete(store, PLAN_KEY)
    assert info.value.key == sealed_key(PLAN_KEY)
    assert "its last line is not the seal of its lines (sha256 " in str(info.value)
    assert not is_complete(store, PLAN_KEY)


def test_a_marked_payload_is_read_before_a_sealed_object_of_the_same_key(store: ArtifactStore) -> None:
    write_sealed(store, PLAN_KEY, b"sealed\n", "plan")
    write_complete(store, PLAN_KEY, b"marked\n")
    assert read_complete(store, PLAN_KEY) == b"marked\n"


@pytest.mark.parametrize(("key", "sealed"), [("a/journal.log", "a/journal.v2.log"), ("plan.json", "plan.v2.json"),
                                             ("a/b.c/name", "a/b.c/name.v2"), ("a/.hidden", "a/.hidden.v2")])
def test_a_sealed_objects_key_has_v2_before_the_extension(key: str, sealed: str) -> None:
    assert sealed_key(key) == sealed


def test_marker_keys_cannot_be_artifacts(store: ArtifactStore) -> None:
    with pytest.raises(ValueError, match=r"\.SUCCESS"):
        write_complete(store, "result.json.SUCCESS", b"x")
    with pytest.raises(ValueError, match="store: invalid key"):
        read_complete(store, "../result.json")
    assert store.list_keys() == []


# -- replace-safe rewrites: the old version stays readable until the new one is complete ----------


class _StepFailedError(Exception):
    pass


class _FailingAt:
    """``store`` whose ``n``-th mutating call (put_bytes/delete, counted from 1) raises instead of running."""

    def __init__(self, store: ArtifactStore, n: int) -> None:
        self.inner, self.n, self.calls = store, n, 0

    @property
    def uri(self) -> str:
        return self.inner.uri

    def _step(self) -> None:
        self.calls += 1
        if self.calls == self.n:
            raise _StepFailedError(self.n)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._step()
        self.inner.put_bytes(key, data)

    def delete(self, key: str) -> None:
        self._step()
        self.inner.delete(key)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_keys(self, prefix: str = "") -> list[str]:
        return self.inner.list_keys(prefix)


REWRITE_STEPS = 5  # staged put, marker switch, payload put, plain marker, staged delete


def test_a_rewrite_has_the_documented_number_of_steps(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b"old version")
    counting = _FailingAt(store, 0)
    write_complete(counting, SHARD_KEY, b"new version, longer")
    assert counting.calls == REWRITE_STEPS
    assert store.list_keys("experiments/") == [SHARD_KEY, SHARD_KEY + ".SUCCESS"]
    assert store.get_bytes(SHARD_KEY) == b"new version, longer"


@pytest.mark.parametrize("failing_step", range(1, REWRITE_STEPS + 1))
def test_a_rewrite_failing_at_any_step_leaves_a_complete_version(store: ArtifactStore, failing_step: int) -> None:
    old, new, newer = b"old version", b"new version, longer", b"third"
    write_complete(store, SHARD_KEY, old)
    with pytest.raises(_StepFailedError):
        write_complete(_FailingAt(store, failing_step), SHARD_KEY, new)
    # The old version until the marker switched (after step 2), the new one from then on.
    assert read_complete(store, SHARD_KEY) == (old if failing_step <= 2 else new)
    # Retrying the same write completes it; a staged copy is left only when its deletion (step 5) failed.
    write_complete(store, SHARD_KEY, new)
    assert read_complete(store, SHARD_KEY) == new
    leftover = [staged_key(SHARD_KEY, hashlib.sha256(new).hexdigest())] if failing_step == REWRITE_STEPS else []
    assert store.list_keys("experiments/") == [SHARD_KEY, SHARD_KEY + ".SUCCESS", *leftover]
    # So does a later rewrite with other bytes after an interruption.
    with pytest.raises(_StepFailedError):
        write_complete(_FailingAt(store, failing_step), SHARD_KEY, old)
    write_complete(store, SHARD_KEY, newer)  # the next rewrite removes every staged copy
    assert read_complete(store, SHARD_KEY) == newer
    assert store.list_keys("experiments/") == [SHARD_KEY, SHARD_KEY + ".SUCCESS"]


def test_a_marker_naming_a_foreign_staged_payload_is_corrupt(store: ArtifactStore) -> None:
    write_complete(store, SHARD_KEY, b"data")
    digest = hashlib.sha256(b"data").hexdigest()
    marker = {"key": SHARD_KEY, "payload": "elsewhere/result.json", "sha256": digest, "size": 4}
    store.put_bytes(marker_key(SHARD_KEY), json.dumps(marker).encode())
    with pytest.raises(CorruptArtifactError, match="names payload"):
        read_complete(store, SHARD_KEY)
