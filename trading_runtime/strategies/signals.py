"""Signal helpers shared by the example strategies."""

from __future__ import annotations

import numpy as np

from trading_framework.bars import FloatArray


def hold_signals(signal: FloatArray) -> FloatArray:
    """Carry the last non-NaN signal forward (0 before the first): NaN means "no new decision"."""
    n = len(signal)
    idx = np.where(np.isnan(signal), -1, np.arange(n))
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, signal[np.maximum(idx, 0)], 0.0)
    return out.astype(np.float64)
