"""Canonical JSON: the one serialisation of every result (DESIGN §4).

Sorted keys, UTF-8, two-space indent, trailing newline. Floats are written with Python's shortest
round-trip repr; -0.0 becomes 0.0; NaN and ±inf become ``null`` (``allow_nan=False`` guards the
rest). numpy scalars and arrays are converted to plain Python first.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def to_plain(obj: Any) -> Any:
    """``obj`` as plain JSON types with the float policy applied."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        if not math.isfinite(x):
            return None
        return 0.0 if x == 0.0 else x
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"canonical JSON keys must be str, got {type(k).__name__} {k!r}")
            out[k] = to_plain(v)
        return out
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_plain(v) for v in obj]
    raise TypeError(f"cannot write {type(obj).__name__} as canonical JSON")


def canonical_json(obj: Any) -> str:
    return json.dumps(to_plain(obj), sort_keys=True, ensure_ascii=False, allow_nan=False, indent=2) + "\n"


def canonical_bytes(obj: Any) -> bytes:
    return canonical_json(obj).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
