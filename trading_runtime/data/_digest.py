"""A file's sha256 computed on a thread while its bytes are parsed.

``hashlib`` releases the GIL while it hashes a buffer of more than 2 KiB, and so does Parquet decoding: with
a free core the digest of a bars file (~0.02–0.03 s for 1M bars) leaves a shard's data phase. The thread is
always joined before the ``with`` block is left (also on error), and an exception raised in it is raised
again, as itself, in the thread that asks for the digest.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Digest:
    def __init__(self, content: bytes) -> None:
        self.hexdigest: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(content,), name="sha256")

    def _run(self, content: bytes) -> None:
        try:
            self.hexdigest = hashlib.sha256(content).hexdigest()
        except BaseException as error:  # raised again in the thread that asks for the digest
            self.error = error

    def result(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.hexdigest is not None
        return self.hexdigest


@contextmanager
def sha256_on_thread(content: bytes) -> Iterator[Callable[[], str]]:
    """``content``'s sha256 hex digest computed on a thread during the ``with`` body; the value yielded
    returns it (waiting for the thread). The thread is joined when the body ends, also on error."""
    digest = _Digest(content)
    digest.thread.start()
    try:
        yield digest.result
    finally:
        digest.thread.join()
