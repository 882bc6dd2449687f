"""Work started on a thread and its result taken later: a bars file's sha256 while its bytes are parsed, a
shard's data while numba is imported.

``hashlib``, Parquet decoding and numpy's copies release the GIL, so with a free core such work leaves the
caller's path. The thread is always joined before the ``with`` block is left (also on error: never left
running at exit), and an exception raised on it is raised again, as itself, in the thread that asks for the
result; when the ``with`` body raises first, the body's exception is the one that propagates. The work runs
in a copy of the caller's context variables, so what it logs carries the caller's log context (the
experiment and shard ids of ``cli.logs.log_context``), as it did on the caller's thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``fn()`` on a thread: called, it returns the result (waiting for the thread) or raises its exception;
    ``ready`` tells, without waiting, whether the thread is done."""

    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self.fn = fn
        self.context = contextvars.copy_context()  # the caller's: its log context (experiment, shard ids)
        self.done = False
        self.value: T | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name)

    def _run(self) -> None:
        try:
            self.value = self.context.run(self.fn)
            self.done = True
        except BaseException as error:  # raised again in the thread that asks for the result
            self.error = error

    def ready(self) -> bool:
        """Whether the result is there (or the error): calling this then does not wait."""
        return not self.thread.is_alive()

    def result(self) -> T:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.done
        return self.value  # type: ignore[return-value]  # set by a successful call (possibly to None)

    __call__ = result


@contextmanager
def in_background(fn: Callable[[], T], name: str) -> Iterator[Background[T]]:
    """``fn()`` called on a thread named ``name`` during the ``with`` body; the value yielded returns its
    result when called (waiting for the thread) or raises its exception. The thread is joined when the body
    ends."""
    call = Background(fn, name)
    call.thread.start()
    try:
        yield call
    finally:
        call.thread.join()
