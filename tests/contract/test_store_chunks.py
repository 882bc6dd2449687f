"""``read_chunks`` and ``object_sha256`` on every backend: the same bytes as ``get_bytes``, in pieces.

The experiment report verifies the derived curves' blob (curves.f64) through them, so that a 48 MB blob
is hashed as it streams instead of being read into memory whole.
"""

from __future__ import annotations

import hashlib

import pytest

from trading_runtime.store import ArtifactNotFoundError, ArtifactStore, object_sha256, read_chunks


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096])
def test_pieces_join_to_the_object_and_hash_to_its_sha256(store: ArtifactStore, size: int) -> None:
    data = bytes((i * 7919) % 251 for i in range(size))
    store.put_bytes("blobs/a.bin", data)
    pieces = [bytes(piece) for piece in read_chunks(store, "blobs/a.bin", 4096)]  # copied: a piece may be reused
    assert b"".join(pieces) == data
    assert all(0 < len(p) <= 4096 for p in pieces)
    assert object_sha256(store, "blobs/a.bin") == hashlib.sha256(data).hexdigest()


def test_an_absent_object_is_not_found(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError):
        list(read_chunks(store, "blobs/absent.bin"))
    with pytest.raises(ArtifactNotFoundError):
        object_sha256(store, "blobs/absent.bin")
