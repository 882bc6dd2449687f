"""Canonical JSON and golden comparison with declared tolerances."""

from trading_runtime.golden.canonical import canonical_bytes, canonical_json, sha256_hex, to_plain
from trading_runtime.golden.compare import Difference, Tolerance, compare, tolerance_for

__all__ = [
    "Difference", "Tolerance", "canonical_bytes", "canonical_json", "compare", "sha256_hex", "to_plain",
    "tolerance_for",
]
