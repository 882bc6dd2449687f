"""Sealed objects: complete-or-absent in one put, without a marker.

A sealed object is the payload followed by one last line, its seal::

    #trading-runtime <label> sha256=<64 hex of the payload>

written with one ``put_bytes`` at :func:`sealed_key` of the payload's key. A put is atomic in every
backend (local: a temporary file fsynced and renamed; S3: one PUT), so the object is complete once it
exists, and the seal catches any other damage (a truncated copy, an edit). The payload must end with a
newline (journal lines, canonical JSON). Where a payload plus its ``.SUCCESS`` marker costs two puts
(``store/markers.py``), a sealed object costs one: the study's journal objects and the generation plans
of an Optuna study (``optimize/``) are written so; ``read_complete`` reads a sealed object when its key
has no marker.
"""

from __future__ import annotations

import hashlib
import re

from trading_runtime.store.base import ArtifactStore
from trading_runtime.store.markers import CorruptArtifactError

__all__ = ["read_sealed", "seal", "sealed_key", "unseal", "write_sealed"]

_SEAL = re.compile(rb"#trading-runtime [a-z]+ sha256=([0-9a-f]{64})\n?")


def sealed_key(key: str) -> str:
    """Where the sealed object of ``key`` is: ``.v2`` before the last segment's extension (``journal.log`` →
    ``journal.v2.log``, ``plan.json`` → ``plan.v2.json``), or after a segment without one."""
    head, _, name = key.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    sealed = f"{stem}.v2.{ext}" if dot and stem else f"{name}.v2"
    return f"{head}/{sealed}" if head else sealed


def seal(payload: bytes, label: str) -> bytes:
    """The sealed object of ``payload`` (``label``: what it holds, one lower-case word)."""
    if payload and not payload.endswith(b"\n"):
        raise ValueError("a sealed payload ends with a newline")
    digest = hashlib.sha256(payload).hexdigest()
    return b"%s#trading-runtime %s sha256=%s\n" % (payload, label.encode(), digest.encode())


def unseal(uri: str, key: str, raw: bytes) -> tuple[bytes, str]:
    """A sealed object's payload and its sha256, checked against its seal (``key``: the sealed object's key)."""
    cut = raw.rfind(b"\n", 0, len(raw) - 1) + 1
    body = raw[:cut]
    digest = hashlib.sha256(body).hexdigest()
    found = _SEAL.fullmatch(raw, cut)
    if found is None or found[1] != digest.encode():
        raise CorruptArtifactError(uri, key, f"its last line is not the seal of its lines (sha256 {digest})")
    return body, digest


def write_sealed(store: ArtifactStore, key: str, payload: bytes, label: str) -> None:
    """Write ``payload`` as the sealed object of ``key`` (one put; rewriting it is one put as well)."""
    store.put_bytes(sealed_key(key), seal(payload, label))


def read_sealed(store: ArtifactStore, key: str) -> bytes:
    """The payload of ``key``'s sealed object, checked (``ArtifactNotFoundError`` when there is none)."""
    sealed = sealed_key(key)
    return unseal(store.uri, sealed, store.get_bytes(sealed))[0]
