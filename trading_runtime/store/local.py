"""A store in a local directory (the default backend; ``file:///abs/dir`` or a plain path).

Writes go to a temporary file in the destination's own directory (same filesystem), are fsynced,
then renamed over the destination with ``os.replace`` and the directory is fsynced: a reader sees
the old file, the whole new file, or nothing. Directories a write creates are made durable first
(the parent of each is fsynced): a durable file is never lost with its new directory. A writer
killed mid-write leaves at most a stray temporary file named ``.trstore-tmp-*``; such names are
reserved (refused as keys) and never listed, and a later write into the same directory removes
those older than :data:`STALE_TMP_SECONDS`.

Symbolic links below the root are never followed by a write or a delete: a key whose path crosses a
link is refused, so nothing is written outside the root. I/O errors are one line each: no space left
(``ENOSPC``, ``EDQUOT``, ``EFBIG``) is :class:`~trading_runtime.errors.TransientError` (exit 75: the
write left nothing behind and may succeed once space is freed); a store that cannot hold the key (read-only,
permission denied, a path through a file, a name too long) is :class:`~trading_runtime.errors.InputError`
(exit 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from trading_runtime.errors import InputError, TransientError
from trading_runtime.store.base import (
    RESERVED_SEGMENT_PREFIX,
    ArtifactNotFoundError,
    validate_key,
    validate_prefix,
)

__all__ = ["LocalStore"]

# Permission bits of new files before the umask, as for open(..., "w").
_FILE_MODE = 0o666
# A temporary file this old (seconds) is a leftover of a killed writer, removed by the next write
# into its directory; no single write takes anywhere near this long.
STALE_TMP_SECONDS = 3600.0
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# A path that cannot be there (pathlib's is_file/is_symlink answer False for these, and raise any other error)
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})
_CANNOT_HOLD = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EEXIST: "a part of the path is a file, not a directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EISDIR: "the path is a directory",
    errno.ELOOP: "too many symbolic links",
}


class _LayoutError(InputError, ValueError):
    """The directory cannot hold the key (a file where a directory is needed): bad input, exit 2."""


class LocalStore:
    """Objects are files under ``root``; keys map to relative paths. ``root`` is created on first write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        if "\x00" in str(text):
            raise InputError(f"store: invalid local store path {str(text)!r}: NUL character")
        self._root = Path(os.path.abspath(text))
        self._text = str(self._root)  # the root as text: a key's file is one join away (_file)

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

    def _file(self, key: str) -> str:
        """``_path(key)`` as text (a key has no empty, ``.`` or ``..`` segment: nothing for ``Path`` to normalise)."""
        return os.path.join(self._text, validate_key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_parts(key, (bytes(data),))

    def put_parts(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Store the concatenation of ``parts`` under ``key`` as :meth:`put_bytes` would, without joining
        them in memory first (each part is written as it is: a big object costs no copy of itself)."""
        path = self._path(key)
        try:
            self._write(key, path, parts)
        except OSError as e:
            raise self._io_error("write", key, e) from None
        _remove_stale_temporaries(path.parent)

    def _write(self, key: str, path: Path, parts: Sequence[bytes | memoryview]) -> None:
        if not self._refuse_links(key):  # (when every directory of the key is there, there is none to make)
            missing = []  # directories this write creates, deepest first
            directory = path.parent
            while not os.path.lexists(directory) and directory != directory.parent:
                missing.append(directory)
                directory = directory.parent
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise self._conflict(key) from None
            for created in reversed(missing):
                _fsync_directory(created.parent)  # a new directory's entry is durable before a file in it is
        tmp = path.parent / f"{RESERVED_SEGMENT_PREFIX}{secrets.token_hex(8)}"
        try:
            # Opened inside the try: an interrupt right after the file exists still removes it.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
            try:
                for part in parts:
                    view = memoryview(part).cast("B")
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

    def _refuse_links(self, key: str) -> bool:
        """A write or delete never goes through a symbolic link below the root (it could leave the root): each of the
        key's segments is looked at (``lstat``) down to the first that is not there. Whether every directory of the key
        is there (a directory, not a link)."""
        segments = validate_key(key).split("/")
        current = self._text
        for depth, segment in enumerate(segments, 1):
            current = os.path.join(current, segment)
            try:
                mode = os.lstat(current).st_mode
            except OSError as e:
                if e.errno not in _ABSENT:
                    raise
                return False  # nothing below it is there either
            if stat.S_ISLNK(mode):
                raise InputError(f"store: cannot write {key!r} in {self.uri}: "
                                 f"{'/'.join(segments[:depth])!r} is a symbolic link (a local store "
                                 "never follows links below its root)")
            if depth < len(segments) and not stat.S_ISDIR(mode):
                return False  # a file where a directory is needed: the write says so (_conflict)
        return True

    def _io_error(self, operation: str, key: str, e: OSError) -> Exception:
        """The one-line error of a failed file operation (see the module docstring for the exit codes)."""
        what = f"store: cannot {operation} {key!r} in {self.uri}"
        if e.errno in _NO_SPACE:
            return TransientError(f"{what}: no space left ({os.strerror(e.errno or 0)}); nothing was written, "
                                  "free some space and run the step again")
        if e.errno in _CANNOT_HOLD:
            where = str(e.filename or self._root)
            if os.path.basename(where).startswith(RESERVED_SEGMENT_PREFIX):
                where = os.path.dirname(where)  # the directory, not the temporary file's name
            return InputError(f"{what}: {_CANNOT_HOLD[e.errno]} ({where}); "
                              "expected a writable directory")
        return e

    def _conflict(self, key: str) -> ValueError:
        for parent in (self._root, *self._root.parents):
            if parent.exists() and not parent.is_dir():
                return _LayoutError(f"store: cannot write {key!r} in {self.uri}: {parent} is a file, "
                                    "expected a directory (or a path to create)")
        return _LayoutError(
            f"store: cannot write {key!r} in {self.uri}: a directory store cannot hold both a key "
            "and keys below it (e.g. 'a' and 'a/b')"
        )

    def get_bytes(self, key: str) -> bytes:
        path = self._file(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ArtifactNotFoundError(self.uri, key) from None
        except OSError as e:
            raise self._io_error("read", key, e) from None

    def read_chunks(self, key: str, size: int) -> Iterator[memoryview]:
        """The file in pieces of at most ``size`` bytes, read into one reused buffer (see ``store.read_chunks``)."""
        path = self._path(key)
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below, after the last piece)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ArtifactNotFoundError(self.uri, key) from None
        except OSError as e:
            raise self._io_error("read", key, e) from None
        buffer = bytearray(size)
        view = memoryview(buffer)
        with fh:
            while True:
                try:
                    n = fh.readinto(buffer)
                except OSError as e:
                    raise self._io_error("read", key, e) from None
                if not n:
                    return
                yield view[:n]

    def exists(self, key: str) -> bool:
        """Whether ``key``'s file is there (``Path.is_file``: a link is followed; False where the path cannot be)."""
        try:
            return stat.S_ISREG(os.stat(self._file(key)).st_mode)
        except OSError as e:
            if e.errno not in _ABSENT:
                raise
            return False

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._refuse_links(key)
        # Absent, below a file, or a directory of other keys: in every case no object to remove.
        try:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()
        except OSError as e:
            raise self._io_error("delete", key, e) from None

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


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove temporary files of killed writers (older than STALE_TMP_SECONDS) from ``directory``."""
    cutoff = time.time() - STALE_TMP_SECONDS
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith(RESERVED_SEGMENT_PREFIX) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(entry.path)
    except OSError:
        pass  # tidying only


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
