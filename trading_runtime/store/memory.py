"""A dict-backed store for tests, with process-wide named instances behind ``memory://name``."""

from __future__ import annotations

import itertools
import threading
import weakref

from trading_runtime.store.base import ArtifactNotFoundError, validate_key, validate_prefix

__all__ = ["MemoryStore", "memory_store"]

_REGISTRY_LOCK = threading.RLock()
# Stores opened by name (``memory://name``) live for the whole process, like a directory would.
_NAMED: dict[str, MemoryStore] = {}
# Stores built with ``MemoryStore()`` are reachable through their URI while someone holds them.
_ANONYMOUS: weakref.WeakValueDictionary[str, MemoryStore] = weakref.WeakValueDictionary()
_ANONYMOUS_COUNTER = itertools.count(1)


class MemoryStore:
    """Objects kept in a dict in this process.

    ``MemoryStore()`` is private to its creator (its ``memory://anonymous-N`` URI resolves only
    while it is alive); ``MemoryStore("name")`` registers ``memory://name`` for the whole process.
    Use :func:`memory_store` to get-or-create a named one.
    """

    def __init__(self, name: str | None = None) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()
        with _REGISTRY_LOCK:
            if name is None:
                name = f"anonymous-{next(_ANONYMOUS_COUNTER)}"
                while name in _NAMED:
                    name = f"anonymous-{next(_ANONYMOUS_COUNTER)}"
                _ANONYMOUS[name] = self
            else:
                if "/" in name:
                    raise ValueError(f"store: invalid memory store name {name!r}: no '/' allowed")
                if name in _NAMED or name in _ANONYMOUS:
                    raise ValueError(f"store: memory store {name!r} already exists; use memory_store({name!r})")
                _NAMED[name] = self
            self._name = name

    @property
    def uri(self) -> str:
        return f"memory://{self._name}"

    def __repr__(self) -> str:
        return f"MemoryStore({self.uri!r})"

    def put_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        blob = bytes(data)
        with self._lock:
            self._objects[key] = blob

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise ArtifactNotFoundError(self.uri, key) from None

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._objects

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def list_keys(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        with self._lock:
            return sorted(key for key in self._objects if key.startswith(prefix))


def memory_store(name: str) -> MemoryStore:
    """The process-wide store behind ``memory://name``, created empty on first use."""
    with _REGISTRY_LOCK:
        store = _NAMED.get(name) or _ANONYMOUS.get(name)
        if store is None:
            store = MemoryStore(name)
        return store
