"""RSI mean reversion: enter long when RSI < lower, exit when RSI > upper, hold in between."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from trading_framework import Bars, FeatureCache, Strategy, StrategyParams
from trading_framework.bars import FloatArray
from trading_runtime.strategies.signals import hold_signals


class RsiReversionParams(StrategyParams):
    window: int = Field(14, ge=2, le=1_000, description="Wilder RSI window, bars")
    lower: float = Field(30.0, ge=1.0, le=50.0, description="enter long below this RSI")
    upper: float = Field(70.0, ge=50.0, le=99.0, description="exit above this RSI")

    @model_validator(mode="after")
    def _lower_below_upper(self) -> RsiReversionParams:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be < upper ({self.upper})")
        return self


class RsiReversion(Strategy):
    """Long-only: buy oversold, sell overbought."""

    Params = RsiReversionParams
    params: RsiReversionParams

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        rsi = features.rsi(self.params.window)
        signal = np.full(len(bars), np.nan)
        signal[rsi < self.params.lower] = 1.0
        signal[rsi > self.params.upper] = 0.0
        return hold_signals(signal)

    def warmup_bars(self) -> int:
        return self.params.window
