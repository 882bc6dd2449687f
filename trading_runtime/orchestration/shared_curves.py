"""The curves blob in memory shared with the sweep's worker processes (Linux: a memfd), laid out as curves.f64.

With several workers, finalize's curves are derived on the workers of the shards' pool (which hold the data,
the loaded kernels and a heap already faulted in by their shards), each writing its series straight into this
blob; the sweep process writes each window's timestamps, then reads the series in place: nothing is copied
between processes, and the blob is hashed and written to the store as it is. The bytes are those of
``equity_blob.blob_parts`` over the same curves (same layout, same values: a curve is a pure function of the
plan, the data and the code).
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trading_runtime.planning.equity_blob import BlobLayout, Curve

_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # linux/mman.h


def can_share() -> bool:
    """Whether this platform has what a shared blob needs (Linux's memfd)."""
    return hasattr(os, "memfd_create") and os.path.isdir(f"/proc/{os.getpid()}/fd")


@dataclass
class SharedBlob:
    """A blob of ``layout.size`` bytes in shared memory, mapped in this process; workers open ``path``."""

    layout: BlobLayout
    path: str
    buffer: mmap.mmap
    fd: int

    @classmethod
    def create(cls, layout: BlobLayout) -> SharedBlob:
        fd = os.memfd_create("trading-runtime-curves", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, max(layout.size, 1))
            buffer = mmap.mmap(fd, max(layout.size, 1), flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            raise
        return cls(layout, f"/proc/{os.getpid()}/fd/{fd}", buffer, fd)

    def close(self) -> None:
        """Release the descriptor (workers have opened their own); the mapping lives while curves view it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def put_timestamps(self, window: tuple[str, str], ts: Any) -> None:
        offset = self.layout.windows[window]
        view = np.frombuffer(self.buffer, dtype="<i8", count=len(ts), offset=offset)
        view[:] = ts
        del view

    def curves(self) -> dict[tuple[str, str], Curve]:
        """Every series of the blob as (ts, equity) views of the shared memory (read-only)."""
        return _views(self.buffer, self.layout.series)


def _views(buffer: mmap.mmap, series: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Curve]:
    """(ts, equity) read-only views of these series of a mapped blob, its pages mapped at once
    (``MADV_POPULATE_READ``, Linux 5.14: one call instead of a fault per page)."""
    with contextlib.suppress(OSError, ValueError):  # an older kernel: the pages are mapped as they are read
        buffer.madvise(_MADV_POPULATE_READ)
    out: dict[tuple[str, str], Curve] = {}
    for entry in series:
        n = int(entry["length"])
        ts = np.frombuffer(buffer, dtype="<i8", count=n, offset=int(entry["ts_offset"]))
        equity = np.frombuffer(buffer, dtype="<f8", count=n, offset=int(entry["offset"]))
        ts.flags.writeable = False
        equity.flags.writeable = False
        out[entry["run_id"], entry["segment"]] = (ts, equity)
    return out


def map_curves(path: str, series: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Curve]:
    """On a worker: the series of the shared blob at ``path`` as read-only views (the mapping lives as long as
    they do)."""
    with open(path, "rb") as fh:
        buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return _views(buffer, series)


def write_series(path: str, entries: Sequence[dict[str, Any]], curves: Mapping[tuple[str, str], Curve]) -> None:
    """On a worker: each entry's equity (of ``curves``, derived here) written into the shared blob at ``path``.
    ValueError when a curve is missing or has another length than the layout planned."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    try:
        buffer = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
    finally:
        os.close(fd)
    try:
        for entry in entries:
            key = (entry["run_id"], entry["segment"])
            if key not in curves or len(curves[key][1]) != int(entry["length"]):
                raise ValueError(f"curve {key}: not derived with the planned length {entry['length']}")
            view = np.frombuffer(buffer, dtype="<f8", count=int(entry["length"]), offset=int(entry["offset"]))
            view[:] = curves[key][1]
            del view
    finally:
        buffer.close()
