"""SMA crossover: long while SMA(close, fast) > SMA(close, slow), else flat."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from trading_framework import Bars, FeatureCache, Strategy, StrategyParams
from trading_framework.bars import FloatArray


class SmaCrossParams(StrategyParams):
    fast: int = Field(10, ge=1, le=10_000, description="fast SMA window, bars")
    slow: int = Field(50, ge=2, le=10_000, description="slow SMA window, bars")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")
        return self


class SmaCross(Strategy):
    """Long when the fast SMA is above the slow one; flat while either SMA is undefined."""

    Params = SmaCrossParams
    params: SmaCrossParams

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        fast = features.sma(self.params.fast)
        slow = features.sma(self.params.slow)
        # NaN compares False: flat during warm-up.
        return np.greater(fast, slow).astype(np.float64)

    def warmup_bars(self) -> int:
        return self.params.slow - 1
