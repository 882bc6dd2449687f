"""Complete-or-absent artifacts: a payload plus a ``.SUCCESS`` marker carrying its sha256 (DESIGN §5), or
one sealed object (``store/sealed.py``), which :func:`read_complete` reads when the key has no marker.

The marker at ``key + ".SUCCESS"`` is JSON with sorted keys and a trailing newline::

    {"key": "experiments/x/shards/shard-00003/result.json", "sha256": "<64 hex>", "size": 1234}

``key`` is the store-relative payload key, so a store copied elsewhere still verifies. Writers put
the payload first and the marker last; readers trust a payload only through its marker.

Replacing a complete artifact with different bytes never leaves a window without a complete
version (each step below is one atomic ``put_bytes``/``delete``; a writer killed or failing after
any step leaves the old or the new version readable, never neither):

1. the new payload goes to a staged key ``key + ".staged-" + sha256[:16]`` (old version untouched);
2. the marker is switched to the new version, naming the staged key in a fourth field ``payload``;
3. the new payload is copied to ``key`` (the marker still names the staged copy);
4. the marker is switched back to the plain three-field form (naming ``key``);
5. the staged copy is deleted, and so are staged copies of earlier interrupted rewrites.

Readers never list: a marker names exactly the object to read. Two rewrites of one key at the same
time are not supported (the coordinator steps that rewrite run one at a time).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from trading_runtime.errors import VerificationError
from trading_runtime.store.base import ArtifactNotFoundError, ArtifactStore, validate_key

__all__ = [
    "MARKER_SUFFIX",
    "ArtifactMissingError",
    "CorruptArtifactError",
    "is_complete",
    "marker_key",
    "read_complete",
    "write_complete",
]

MARKER_SUFFIX = ".SUCCESS"

_MARKER_FIELDS = frozenset({"key", "sha256", "size"})
# Infix of a rewrite's staged payload key (see the module docstring).
STAGED_INFIX = ".staged-"
# Times a reader reads the marker again when the payload changed under it (a concurrent rewrite).
_READ_ATTEMPTS = 3


class ArtifactMissingError(VerificationError):
    """The artifact has no completion marker: it was never finished (or never started)."""

    def __init__(self, uri: str, key: str) -> None:
        super().__init__(f"store: artifact {key!r} in {uri} is missing (no {MARKER_SUFFIX} marker)")
        self.uri = uri
        self.key = key


class CorruptArtifactError(VerificationError):
    """The marker exists but the payload does not match it (checksum, size, absent payload, bad marker)."""

    def __init__(self, uri: str, key: str, problem: str) -> None:
        super().__init__(f"store: artifact {key!r} in {uri} is corrupt: {problem}")
        self.uri = uri
        self.key = key
        self.problem = problem


def marker_key(key: str) -> str:
    """The key of the completion marker of the payload at ``key``."""
    validate_key(key)
    if key.endswith(MARKER_SUFFIX):
        raise ValueError(f"store: invalid artifact key {key!r}: names ending in {MARKER_SUFFIX!r} are markers")
    return key + MARKER_SUFFIX


def staged_key(key: str, sha256: str) -> str:
    """Where a rewrite stages the payload with digest ``sha256`` before the marker switches to it."""
    return f"{key}{STAGED_INFIX}{sha256[:16]}"


def _marker_bytes(key: str, payload: bytes, staged: str | None = None) -> bytes:
    marker: dict[str, Any] = {"key": key, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    if staged is not None:
        marker["payload"] = staged
    return (json.dumps(marker, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _parse_marker(store: ArtifactStore, key: str, raw: bytes) -> dict[str, Any]:
    try:
        marker = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtifactError(store.uri, key, f"unreadable marker {key + MARKER_SUFFIX!r} ({exc})") from None
    if not isinstance(marker, dict) or set(marker) - {"payload"} != _MARKER_FIELDS:
        raise CorruptArtifactError(
            store.uri, key, f"marker {key + MARKER_SUFFIX!r} must hold exactly {sorted(_MARKER_FIELDS)}"
        )
    if marker["key"] != key:
        raise CorruptArtifactError(store.uri, key, f"marker names key {marker['key']!r}")
    if not isinstance(marker["sha256"], str) or not isinstance(marker["size"], int):
        raise CorruptArtifactError(store.uri, key, f"marker {key + MARKER_SUFFIX!r} has malformed fields")
    if "payload" in marker and marker["payload"] != staged_key(key, marker["sha256"]):
        raise CorruptArtifactError(store.uri, key, f"marker names payload {marker['payload']!r}")
    return marker


def write_complete(store: ArtifactStore, key: str, payload: bytes) -> None:
    """Write ``payload`` at ``key``, then its marker: the artifact becomes complete at the last step.

    Re-running with identical bytes rewrites identical objects (idempotent, never briefly absent).
    Rewriting with *different* bytes goes through a staged copy (module docstring): whatever step
    fails or is killed, the previous complete version stays readable until the new one is complete.
    """
    marker = marker_key(key)
    payload = bytes(payload)
    new_marker = _marker_bytes(key, payload)
    try:
        old_marker: bytes | None = store.get_bytes(marker)
    except ArtifactNotFoundError:
        old_marker = None
    if old_marker is None or old_marker == new_marker:
        store.put_bytes(key, payload)
        store.put_bytes(marker, new_marker)
        return
    staged = staged_key(key, hashlib.sha256(payload).hexdigest())
    store.put_bytes(staged, payload)
    store.put_bytes(marker, _marker_bytes(key, payload, staged))
    store.put_bytes(key, payload)
    store.put_bytes(marker, new_marker)
    store.delete(staged)
    # Staged copies of interrupted rewrites of other bytes (a listing: tidying only, never trusted).
    for leftover in store.list_keys(key + STAGED_INFIX):
        store.delete(leftover)


def read_complete(store: ArtifactStore, key: str) -> bytes:
    """Return the payload at ``key`` if its marker exists and its sha256 and size match; without a marker,
    the payload of its sealed object (``store/sealed.py``: one put, its seal checked) if there is one.

    Raises :class:`ArtifactMissingError` if there is neither and :class:`CorruptArtifactError`
    if the payload is absent or does not match the marker (or the sealed object its seal).
    """
    from trading_runtime.store.sealed import read_sealed  # sealed.py raises this module's errors

    marker = marker_key(key)
    try:
        raw_marker = store.get_bytes(marker)
    except ArtifactNotFoundError:
        try:
            return read_sealed(store, key)
        except ArtifactNotFoundError:
            raise ArtifactMissingError(store.uri, key) from None
    for _ in range(_READ_ATTEMPTS):
        try:
            return _verified_payload(store, key, raw_marker)
        except CorruptArtifactError:
            # A rewrite may have replaced the payload between the two reads: read the marker again.
            try:
                again = store.get_bytes(marker)
            except ArtifactNotFoundError:
                raise ArtifactMissingError(store.uri, key) from None
            if again == raw_marker:
                raise
            raw_marker = again
    return _verified_payload(store, key, raw_marker)


def _verified_payload(store: ArtifactStore, key: str, raw_marker: bytes) -> bytes:
    expected = _parse_marker(store, key, raw_marker)
    try:
        payload = store.get_bytes(expected.get("payload", key))
    except ArtifactNotFoundError:
        raise CorruptArtifactError(store.uri, key, "marker present but payload absent") from None
    if len(payload) != expected["size"]:
        raise CorruptArtifactError(store.uri, key, f"size {len(payload)} != {expected['size']} in marker")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != expected["sha256"]:
        raise CorruptArtifactError(store.uri, key, f"sha256 {digest} != {expected['sha256']} in marker")
    return payload


def is_complete(store: ArtifactStore, key: str) -> bool:
    """Whether :func:`read_complete` would succeed: marker present and payload verified (or sealed and checked).

    A corrupt artifact counts as not complete; call :func:`read_complete` to learn why.
    """
    try:
        read_complete(store, key)
    except (ArtifactMissingError, CorruptArtifactError):
        return False
    return True
