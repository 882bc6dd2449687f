"""Downloaded bars files, kept by content: ``<cache dir>/<sha256><suffix>``, verified on every use.

A pod's root filesystem is read-only; the cache lives in the writable temporary directory
(``TMPDIR``, ``/tmp`` in the image). A file is written to a temporary name and renamed, so a
concurrent reader sees the whole file or none; a cached file whose bytes no longer hash to its name
is removed and fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

CACHE_DIR_NAME = "trading-runtime-data"


def default_cache_dir() -> Path:
    """``<temporary directory>/trading-runtime-data`` (``/tmp/trading-runtime-data`` in a pod)."""
    return Path(tempfile.gettempdir()) / CACHE_DIR_NAME


def cached_file(cache_dir: Path, sha256: str, suffix: str) -> Path | None:
    """The cached file holding exactly these bytes, or None (a corrupt copy is removed)."""
    path = cache_dir / f"{sha256}{suffix}"
    try:
        content = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(content).hexdigest() == sha256:
        return path
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def store_in_cache(cache_dir: Path, content: bytes, sha256: str, suffix: str) -> Path:
    """Write ``content`` (whose digest is ``sha256``) as ``<sha256><suffix>`` atomically; its path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{sha256}{suffix}"
    tmp = cache_dir / f".tmp-{secrets.token_hex(8)}{suffix}"
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
