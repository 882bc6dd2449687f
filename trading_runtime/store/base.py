"""The ``ArtifactStore`` protocol every backend implements, its key rules and its not-found error.

Keys are ``/``-separated relative strings such as ``experiments/<id>/shards/shard-00003/result.json``.
A backend maps them onto its own namespace (a directory, a bucket prefix, a dict) and promises:

- ``put_bytes`` is atomic: a reader sees the old object, the whole new object, or nothing;
- ``get_bytes`` raises :class:`ArtifactNotFoundError` (a ``KeyError``) for an absent key;
- ``delete`` of an absent key is not an error;
- ``list_keys`` returns keys in sorted order. It is for tooling only: fan-in never relies on a
  listing, it reads the plan's expected keys (DESIGN §5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "CHUNK_BYTES",
    "RESERVED_SEGMENT_PREFIX",
    "ArtifactNotFoundError",
    "ArtifactStore",
    "object_sha256",
    "put_parts",
    "read_chunks",
    "validate_key",
    "validate_prefix",
]

# Backends may keep temporary objects (the local store's in-flight writes) under names that start
# with this; such segments are refused in keys so that a temporary file can never be read as a key.
RESERVED_SEGMENT_PREFIX = ".trstore-tmp-"


class ArtifactNotFoundError(KeyError):
    """No object under ``key`` in the store at ``uri``."""

    def __init__(self, uri: str, key: str) -> None:
        super().__init__(key)
        self.uri = uri
        self.key = key

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return f"store: no artifact {self.key!r} in {self.uri}"


def _check_segments(text: str, what: str) -> None:
    if "\x00" in text:
        raise ValueError(f"store: invalid {what} {text!r}: NUL character")
    if text.startswith("/"):
        raise ValueError(f"store: invalid {what} {text!r}: must be relative (no leading '/')")
    for segment in text.split("/"):
        if segment == "":
            raise ValueError(f"store: invalid {what} {text!r}: empty path segment")
        if segment in (".", ".."):
            raise ValueError(f"store: invalid {what} {text!r}: '{segment}' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise ValueError(
                f"store: invalid {what} {text!r}: segments starting with {RESERVED_SEGMENT_PREFIX!r} are reserved"
            )


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid store key, else raise ``ValueError`` naming it.

    Valid: non-empty, relative (no leading ``/``), no empty segments (``a//b``, trailing ``/``),
    no ``.`` or ``..`` segments, no NUL, no segment starting with :data:`RESERVED_SEGMENT_PREFIX`.
    """
    if not isinstance(key, str):
        raise TypeError(f"store: key must be a str, got {type(key).__name__}")
    if key == "":
        raise ValueError("store: invalid key '': empty")
    _check_segments(key, "key")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if usable for :meth:`ArtifactStore.list_keys`, else raise ``ValueError``.

    A prefix is matched as a plain string (like S3): ``"a/b"`` matches ``a/b.json`` and ``a/b/c``.
    It follows the key rules, except that it may be empty and may end with ``/``.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"store: prefix must be a str, got {type(prefix).__name__}")
    body = prefix[:-1] if prefix.endswith("/") else prefix
    if body == "":
        if prefix == "/":
            raise ValueError("store: invalid prefix '/': must be relative (no leading '/')")
        return prefix
    _check_segments(body, "prefix")
    return prefix


@runtime_checkable
class ArtifactStore(Protocol):
    """Bytes in, bytes out, under validated relative keys. See the module docstring for guarantees."""

    @property
    def uri(self) -> str:
        """A URI that :func:`trading_runtime.store.open_store` turns back into this store."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """Return the object under ``key``; raise :class:`ArtifactNotFoundError` if absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object under ``key``; no error if it is absent."""
        ...

    def list_keys(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix`` (a plain string prefix), sorted. For tooling only."""
        ...


def put_parts(store: ArtifactStore, key: str, parts: Sequence[bytes | memoryview]) -> None:
    """``store.put_bytes(key, b"".join(parts))``, streamed by a backend that can write parts as they are
    (the local store: finalize's curves blob is never joined into one more copy of itself)."""
    streamed = getattr(store, "put_parts", None)
    if streamed is not None:
        streamed(key, parts)
    else:
        store.put_bytes(key, b"".join(parts))


CHUNK_BYTES = 4 * 2**20
"""Piece size of :func:`read_chunks` (bytes): a few per big object, small enough to stay in the CPU's cache."""


def read_chunks(store: ArtifactStore, key: str, size: int = CHUNK_BYTES) -> Iterator[bytes | memoryview]:
    """The object under ``key`` in consecutive pieces of at most ``size`` bytes (``ArtifactNotFoundError`` when
    absent), streamed by a backend that can (the local store reads its file into one reused buffer: a piece
    is valid until the next is asked for, so copy what must outlive it); others give slices of ``get_bytes``."""
    streamed = getattr(store, "read_chunks", None)
    if streamed is not None:
        yield from streamed(key, size)
        return
    data = memoryview(store.get_bytes(key))
    for start in range(0, len(data), size):
        yield data[start:start + size]


def object_sha256(store: ArtifactStore, key: str) -> str:
    """The sha256 (hex) of the object under ``key``, hashed as it streams (:func:`read_chunks`): a big object
    is never held in memory whole."""
    digest = hashlib.sha256()
    for piece in read_chunks(store, key):
        digest.update(piece)
    return digest.hexdigest()
