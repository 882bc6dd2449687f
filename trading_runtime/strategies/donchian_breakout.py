"""Donchian breakout: long above the prior N-bar high, short below the prior N-bar low."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from trading_framework import Bars, FeatureCache, Strategy, StrategyParams
from trading_framework.bars import FloatArray
from trading_runtime.strategies.signals import hold_signals


class DonchianBreakoutParams(StrategyParams):
    window: int = Field(20, ge=2, le=10_000, description="channel length, bars (excluding the current bar)")


class DonchianBreakout(Strategy):
    """Long/short: +1 on a close above the channel's high, -1 below its low, hold otherwise.

    Shorts need ``risk.allow_short``; long-only execution clips them to flat.
    """

    Params = DonchianBreakoutParams
    params: DonchianBreakoutParams

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        w = self.params.window
        upper = np.empty(len(bars))
        lower = np.empty(len(bars))
        upper[0] = lower[0] = np.nan
        upper[1:] = features.rolling_max(w, "high")[:-1]  # channel of bars t-w..t-1
        lower[1:] = features.rolling_min(w, "low")[:-1]
        signal = np.full(len(bars), np.nan)
        signal[bars.close > upper] = 1.0
        signal[bars.close < lower] = -1.0
        return hold_signals(signal)

    def warmup_bars(self) -> int:
        return self.params.window
