"""Turn a store URI into a store: a plain path, ``file://``, ``memory://name`` or ``s3://bucket/prefix``."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trading_runtime.errors import InputError
from trading_runtime.store.base import ArtifactStore, validate_key
from trading_runtime.store.local import LocalStore
from trading_runtime.store.memory import memory_store

__all__ = ["open_store"]

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
