"""Artifact store (DESIGN §5): one protocol, three backends, complete-or-absent artifacts.

``open_store(uri)`` picks the backend: a path or ``file://`` (local directory, the default),
``memory://name`` (tests), ``s3://bucket/prefix`` (boto3; imported only when such a URI is opened,
so importing this package never imports boto3). ``S3Store`` lives in ``trading_runtime.store.s3``.
"""

from trading_runtime.store.base import (
    CHUNK_BYTES,
    RESERVED_SEGMENT_PREFIX,
    ArtifactNotFoundError,
    ArtifactStore,
    object_sha256,
    put_parts,
    read_chunks,
    validate_key,
    validate_prefix,
)
from trading_runtime.store.local import LocalStore
from trading_runtime.store.markers import (
    MARKER_SUFFIX,
    ArtifactMissingError,
    CorruptArtifactError,
    is_complete,
    marker_key,
    read_complete,
    write_complete,
)
from trading_runtime.store.memory import MemoryStore, memory_store
from trading_runtime.store.uri import is_uri, open_object, open_store, read_object

__all__ = [
    "CHUNK_BYTES",
    "MARKER_SUFFIX",
    "RESERVED_SEGMENT_PREFIX",
    "ArtifactMissingError",
    "ArtifactNotFoundError",
    "ArtifactStore",
    "CorruptArtifactError",
    "LocalStore",
    "MemoryStore",
    "is_complete",
    "is_uri",
    "marker_key",
    "memory_store",
    "object_sha256",
    "open_object",
    "open_store",
    "put_parts",
    "read_chunks",
    "read_complete",
    "read_object",
    "validate_key",
    "validate_prefix",
    "write_complete",
]
