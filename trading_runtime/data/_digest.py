"""A file's sha256 computed on a thread while its bytes are parsed.

``hashlib`` releases the GIL while it hashes a buffer of more than 2 KiB, and so does Parquet decoding: with
a free core the digest of a bars file (~0.02–0.03 s for 1M bars) leaves a shard's data phase. The thread is
always joined before the ``with`` block is left (also on error), and an exception raised in it is raised
again, as itself, in the thread that asks for the digest (``background.in_background``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager

from trading_runtime.data.background import in_background


def sha256_on_thread(content: bytes) -> AbstractContextManager[Callable[[], str]]:
    """``content``'s sha256 hex digest computed on a thread during the ``with`` body; the value yielded
    returns it (waiting for the thread). The thread is joined when the body ends, also on error."""
    return in_background(lambda: hashlib.sha256(content).hexdigest(), "sha256")
