"""Work started on a thread and its result taken later: a bars file's sha256 while its bytes are parsed, a
shard's data while numba is imported.

``hashlib``, Parquet decoding and numpy's copies release the GIL, so with a free core such work leaves the
caller's path. The thread is always joined before the ``with`` block is left (also on error: never left
running at exit), and an exception raised on it is raised again, as itself, in the thread that asks for the
result; when the ``with`` body raises first, the body's exception is the one that propagates.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self.fn = fn
        self.done = False
        self.value: T | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name)

    def _run(self) -> None:
        try:
            self.value = self.fn()
            self.done = True
        except BaseException as error:  # raised again in the thread that asks for the result
            self.error = error

    def result(self) -> T:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.done
        return self.value  # type: ignore[return-value]  # set by a successful call (possibly to None)


@contextmanager
def in_background(fn: Callable[[], T], name: str, switch_interval: float | None = None) -> Iterator[Callable[[], T]]:
    """``fn()`` called on a thread named ``name`` during the ``with`` body; the value yielded returns its
    result (waiting for the thread) or raises its exception. The thread is joined when the body ends.

    ``switch_interval`` (seconds): the interpreter's switch interval while the thread runs (then restored). A
    thread that alternates short GIL-free steps (a column decoded, an array copied) with short Python ones
    waits, after each GIL-free step, until the thread holding the GIL gives it up: at most the switch
    interval (5 ms by default) when that one runs Python all along (imports). Where the thread's steps are
    many, a shorter interval keeps it from losing more time to that than it gains by running beside the
    caller. Scheduling only: nothing computed depends on it.
    """
    call = _Call(fn, name)
    previous = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    call.thread.start()
    try:
        yield call.result
    finally:
        call.thread.join()
        if switch_interval is not None:
            sys.setswitchinterval(previous)
