"""The layout of a shard's kept equity series (``equity.f64``), shared by its writer and readers.

Little-endian, no header. Each distinct (window, segment) writes its int64 timestamps once; each
kept series then writes its float64 equity. A result's ``equity.series`` entry names
``ts_offset``, ``offset`` (of the equity) and ``length`` in bytes/values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

LAYOUT = "int64 ts[length] at ts_offset (once per window segment), float64 equity[length] at offset; little-endian"


def read_series(blob: bytes, entry: dict[str, Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(ts, equity) of one series of a shard's equity blob."""
    n = int(entry["length"])
    ts = np.frombuffer(blob, dtype="<i8", count=n, offset=int(entry["ts_offset"]))
    eq = np.frombuffer(blob, dtype="<f8", count=n, offset=int(entry["offset"]))
    return ts, eq


def extract_series(pieces: Iterable[bytes | memoryview], entries: Sequence[dict[str, Any]]
                   ) -> tuple[str, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]]:
    """One pass over a blob given in consecutive pieces: its sha256 and each entry's (ts, equity), copied
    out of the pieces as they pass (the blob is never held whole; a piece may be reused once the next is
    asked for). Entries with the same ``ts_offset`` share one ``ts`` array. Same values as ``read_series``."""
    arrays: dict[tuple[str, int], npt.NDArray[Any]] = {}
    wanted: list[tuple[int, npt.NDArray[np.uint8]]] = []  # (offset in the blob, bytes of the array to fill)
    for entry in entries:
        n = int(entry["length"])
        for kind, offset in (("<i8", int(entry["ts_offset"])), ("<f8", int(entry["offset"]))):
            if (kind, offset) not in arrays:
                arrays[kind, offset] = np.empty(n, dtype=kind)
                wanted.append((offset, arrays[kind, offset].view(np.uint8)))
    digest = hashlib.sha256()
    filled = [0] * len(wanted)
    position = 0
    for piece in pieces:
        digest.update(piece)
        end = position + len(piece)
        for i, (offset, target) in enumerate(wanted):
            lo, hi = max(offset, position), min(offset + len(target), end)
            if lo < hi:
                target[lo - offset:hi - offset] = np.frombuffer(piece, dtype=np.uint8, count=hi - lo,
                                                                offset=lo - position)
                filled[i] += hi - lo
        position = end
    if any(done != len(target) for done, (_, target) in zip(filled, wanted, strict=True)):
        raise ValueError(f"equity blob of {position} bytes ends before a series it indexes")
    out = [(arrays["<i8", int(e["ts_offset"])], arrays["<f8", int(e["offset"])]) for e in entries]
    return digest.hexdigest(), out
