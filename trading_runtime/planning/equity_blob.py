"""The layout of an experiment's derived equity curves (``curves.f64``), shared by its writer and readers.

Little-endian, no header. Each distinct (window, segment) writes its int64 timestamps once; each
series then writes its float64 equity. An entry of the index's ``series`` (``curves.json``) names
``run_id``, ``segment``, ``ts_offset``, ``offset`` (of the equity; bytes) and ``length`` (values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

LAYOUT = "int64 ts[length] at ts_offset (once per window segment), float64 equity[length] at offset; little-endian"


# (ts, equity) of one series: epoch-nanosecond timestamps of the scored bars and the equity at each close
Curve = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class BlobParts:
    """A blob as its parts (views of the curves' arrays, in blob order: it is streamed, never joined), its
    index entries, size and sha256."""

    parts: tuple[memoryview, ...]
    series: list[dict[str, Any]]
    size: int
    sha256: str


def blob_parts(curves: Mapping[tuple[str, str], Curve], fold_of: Mapping[str, str]) -> BlobParts:
    """The blob of ``curves`` ((run id, segment) → curve), series sorted by (run id, segment); the timestamps
    of each window (fold of ``fold_of[run id]``, segment) written once."""
    parts: list[memoryview] = []
    index: list[dict[str, Any]] = []
    ts_offsets: dict[tuple[str, str], int] = {}
    offset = 0
    for rid, segment in sorted(curves):
        ts, equity = curves[rid, segment]
        window = (fold_of[rid], segment)
        if window not in ts_offsets:  # a window's timestamps are written once
            ts_b = np.ascontiguousarray(ts, dtype="<i8").data.cast("B")
            ts_offsets[window] = offset
            parts.append(ts_b)
            offset += len(ts_b)
        eq_b = np.ascontiguousarray(equity, dtype="<f8").data.cast("B")
        index.append({"run_id": rid, "segment": segment, "ts_offset": ts_offsets[window], "offset": offset,
                      "length": len(ts)})
        parts.append(eq_b)
        offset += len(eq_b)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return BlobParts(tuple(parts), index, offset, digest.hexdigest())


def read_series(blob: bytes, entry: dict[str, Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(ts, equity) of one series of a blob held in memory."""
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
