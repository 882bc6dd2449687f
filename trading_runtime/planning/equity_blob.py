"""The layout of a shard's kept equity series (``equity.f64``), shared by its writer and readers.

Little-endian, no header. Each distinct (window, segment) writes its int64 timestamps once; each
kept series then writes its float64 equity. A result's ``equity.series`` entry names
``ts_offset``, ``offset`` (of the equity) and ``length`` in bytes/values.
"""

from __future__ import annotations

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
