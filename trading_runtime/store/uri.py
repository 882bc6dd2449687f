"""Turn a store URI into a store: a plain path, ``file://``, ``memory://name`` or ``s3://bucket/prefix``."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trading_runtime.errors import InputError
from trading_runtime.store.base import ArtifactNotFoundError, ArtifactStore, validate_key
from trading_runtime.store.local import LocalStore
from trading_runtime.store.memory import memory_store

__all__ = ["is_uri", "open_object", "open_store", "read_object"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_EXPECTED = "expected a path, file://, s3://bucket/prefix or memory://"


def open_store(uri: str, base_dir: Path | None = None) -> ArtifactStore:
    """Open the store that ``uri`` names; ``store.uri`` opens the same store again.

    - ``some/dir`` or ``/abs/dir``: a :class:`LocalStore`; relative paths resolve against
      ``base_dir`` (default: the current directory);
    - ``file:///abs/dir`` (or ``file://localhost/abs/dir``): a :class:`LocalStore`;
    - ``memory://name``: the process-wide :class:`MemoryStore` of that name (for tests);
    - ``s3://bucket`` or ``s3://bucket/prefix``: an ``S3Store`` (boto3 is imported only here).

    Anything else raises :class:`~trading_runtime.errors.InputError` with one line.
    """
    if not isinstance(uri, str) or uri.strip() == "":
        raise InputError(f"store: empty store URI {uri!r} ({_EXPECTED})")
    match = _SCHEME.match(uri)
    if match is None:
        path = Path(uri)
        if not path.is_absolute():
            path = (base_dir if base_dir is not None else Path.cwd()) / path
        return LocalStore(path)
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    if scheme == "file":
        return _open_file(uri)
    if scheme == "memory":
        return _open_memory(uri, rest)
    if scheme == "s3":
        return _open_s3(uri, rest)
    raise InputError(f"store: unsupported URI {uri!r} ({_EXPECTED})")


def _open_file(uri: str) -> ArtifactStore:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise InputError(
            f"store: file URI {uri!r} names host {parts.netloc!r} (expected file:///absolute/path; "
            "use a plain path for a relative directory)"
        )
    if parts.query or parts.fragment:
        raise InputError(f"store: file URI {uri!r} has a query or fragment (expected file:///absolute/path)")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise InputError(f"store: file URI {uri!r} has no absolute path (expected file:///absolute/path)")
    return LocalStore(Path(path))


def _open_memory(uri: str, name: str) -> ArtifactStore:
    if "/" in name or "?" in name or "#" in name:
        raise InputError(f"store: memory URI {uri!r}: expected memory://name with a name without '/', '?' or '#'")
    return memory_store(name)


def _open_s3(uri: str, rest: str) -> ArtifactStore:
    bucket, _, prefix = rest.partition("/")
    if not bucket or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", bucket):
        raise InputError(f"store: S3 URI {uri!r} has no valid bucket name (expected s3://bucket/prefix)")
    prefix = prefix.strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except ValueError as exc:
            problem = str(exc).removeprefix("store: ")
            raise InputError(f"store: S3 URI {uri!r}: {problem} (expected s3://bucket/prefix)") from None
    from trading_runtime.store.s3 import S3Store  # the only way boto3 gets imported

    return S3Store(bucket, prefix)


def is_uri(text: str) -> bool:
    """Whether ``text`` is a URI (``scheme://...``) rather than a local path."""
    return _SCHEME.match(text) is not None


def open_object(uri: str) -> tuple[ArtifactStore, str]:
    """The store holding the object ``uri`` names and its key: ``s3://bucket/a/b.csv`` → (s3://bucket/a, b.csv).

    A URI without a key (``s3://bucket``) or that is no URI raises InputError (one line naming it).
    """
    expected = f"{uri}: expected the URI of a file in a store (s3://bucket/key or file:///absolute/path)"
    match = _SCHEME.match(uri)
    head, _, key = uri.rpartition("/")
    if match is None or not key or len(head) < match.end():
        raise InputError(expected)
    if len(head) == match.end():  # file:///name: the file system's root
        if match.group(1).lower() != "file":
            raise InputError(expected)
        head += "/"
    try:
        validate_key(key)
    except ValueError as exc:
        raise InputError(f"{uri}: {str(exc).removeprefix('store: ')}") from None
    return open_store(head), key


def read_object(uri: str) -> bytes:
    """The bytes of the object ``uri`` names; an absent object is InputError naming the URI (exit 2), an
    unreachable store TransientError (exit 75, from the backend)."""
    store, key = open_object(uri)
    try:
        return store.get_bytes(key)
    except ArtifactNotFoundError:
        raise InputError(f"{uri}: file not found in the store") from None
