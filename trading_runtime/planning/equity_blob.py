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


@dataclass(frozen=True)
class BlobLayout:
    """Where each series of a blob goes, from the series' lengths alone: ``series`` (the index entries, in blob
    order), ``windows`` ((fold, segment) → the offset of its timestamps) and the blob's ``size`` in bytes."""

    series: list[dict[str, Any]]
    windows: dict[tuple[str, str], int]
    size: int


def blob_layout(lengths: Mapping[tuple[str, str], int], fold_of: Mapping[str, str]) -> BlobLayout:
    """The layout of the blob of curves with these lengths ((run id, segment) → values): series sorted by
    (run id, segment), each window's timestamps (fold of ``fold_of[run id]``, segment) before its first series."""
    series: list[dict[str, Any]] = []
    windows: dict[tuple[str, str], int] = {}
    offset = 0
    for rid, segment in sorted(lengths):
        n = lengths[rid, segment]
        window = (fold_of[rid], segment)
        if window not in windows:  # a window's timestamps are written once
            windows[window] = offset
            offset += 8 * n
        series.append({"run_id": rid, "segment": segment, "ts_offset": windows[window], "offset": offset,
                       "length": n})
        offset += 8 * n
    return BlobLayout(series, windows, offset)


def blob_parts(curves: Mapping[tuple[str, str], Curve], fold_of: Mapping[str, str]) -> BlobParts:
    """The blob of ``curves`` ((run id, segment) → curve) as :func:`blob_layout` places them."""
    parts, layout = blob_views(curves, fold_of)
    return BlobParts(parts, layout.series, layout.size, parts_sha256(parts))


def blob_views(curves: Mapping[tuple[str, str], Curve],
               fold_of: Mapping[str, str]) -> tuple[tuple[memoryview, ...], BlobLayout]:
    """``blob_parts`` without its sha256: the parts (views of the curves' arrays, in blob order) and the layout."""
    layout = blob_layout({key: len(ts) for key, (ts, _) in curves.items()}, fold_of)
    parts: list[memoryview] = []
    written: set[int] = set()
    for entry in layout.series:
        ts, equity = curves[entry["run_id"], entry["segment"]]
        if entry["ts_offset"] not in written:
            written.add(entry["ts_offset"])
            parts.append(np.ascontiguousarray(ts, dtype="<i8").data.cast("B"))
        parts.append(np.ascontiguousarray(equity, dtype="<f8").data.cast("B"))
    return tuple(parts), layout


def parts_sha256(parts: Iterable[bytes | memoryview]) -> str:
    """The sha256 (hex) of the parts joined (hashed part by part: never joined)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


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
