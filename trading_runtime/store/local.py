"""A store in a local directory (the default backend; ``file:///abs/dir`` or a plain path).

Writes go to a temporary file in the destination's own directory (same filesystem), are fsynced,
then renamed over the destination with ``os.replace`` and the directory is fsynced: a reader sees
the old file, the whole new file, or nothing. A writer killed mid-write leaves at most a stray
temporary file named ``.trstore-tmp-*``; such names are reserved (refused as keys) and never listed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from trading_runtime.store.base import (
    RESERVED_SEGMENT_PREFIX,
    ArtifactNotFoundError,
    validate_key,
    validate_prefix,
)

__all__ = ["LocalStore"]

# Permission bits of new files before the umask, as for open(..., "w").
_FILE_MODE = 0o666


class LocalStore:
    """Objects are files under ``root``; keys map to relative paths. ``root`` is created on first write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(os.path.abspath(os.fspath(root)))

    @property
    def root(self) -> Path:
        return self._root

    @property
    def uri(self) -> str:
        return self._root.as_uri()

    def __repr__(self) -> str:
        return f"LocalStore({str(self._root)!r})"

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        blob = bytes(data)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise self._conflict(key) from None
        tmp = path.parent / f"{RESERVED_SEGMENT_PREFIX}{secrets.token_hex(8)}"
        try:
            # Opened inside the try: an interrupt right after the file exists still removes it.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
            try:
                view = memoryview(blob)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, path)
            except IsADirectoryError:
                raise self._conflict(key) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(path.parent)

    def _conflict(self, key: str) -> ValueError:
        return ValueError(
            f"store: cannot write {key!r} in {self.uri}: a directory store cannot hold both a key "
            "and keys below it (e.g. 'a' and 'a/b')"
        )

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ArtifactNotFoundError(self.uri, key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        # Absent, below a file, or a directory of other keys: in every case no object to remove.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()

    def list_keys(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        # Walk only the deepest directory the prefix pins down ("a/b/c" -> a/b, "a/b/" -> a/b).
        fixed = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._root.joinpath(*fixed.split("/")) if fixed else self._root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(RESERVED_SEGMENT_PREFIX)]
            rel = Path(dirpath).relative_to(self._root).as_posix()
            base = "" if rel == "." else rel + "/"
            for name in filenames:
                if name.startswith(RESERVED_SEGMENT_PREFIX):
                    continue
                key = base + name
                if key.startswith(prefix) and os.path.isfile(os.path.join(dirpath, name)):
                    keys.append(key)
        keys.sort()
        return keys


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; not every platform/filesystem can open or fsync a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
