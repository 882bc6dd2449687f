"""Strategies for the experiment tests (loaded with ``--allow-strategy-prefix tests.experiment_strategies``)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from trading_framework import Bars, FeatureCache, Strategy, StrategyParams
from trading_framework.bars import FloatArray
from trading_runtime.strategies.sma_cross import SmaCross, SmaCrossParams


class ExplodingSmaCross(SmaCross):
    """SmaCross that raises for ``fast == 20``: a strategy bug hit by some runs of a sweep only."""

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        if self.params.fast == 20:
            raise RuntimeError(f"exploded on fast {self.params.fast}")
        return super().target(bars, features)


class LabelledSmaCrossParams(SmaCrossParams):
    label: int = Field(0, ge=0, le=9, description="changes nothing: runs that differ only by label tie exactly")


class LabelledSmaCross(SmaCross):
    """SmaCross with an inert ``label`` parameter, to make exact ties in a leaderboard."""

    Params = LabelledSmaCrossParams
    params: LabelledSmaCrossParams


class ConstantParams(StrategyParams):
    exposure: float = Field(-1.0, ge=-1.0, le=1.0, description="the target exposure of every bar")


class Constant(Strategy):
    """The same target exposure on every bar (a short held through a doubling loses everything)."""

    Params = ConstantParams
    params: ConstantParams

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        return np.full(len(bars), self.params.exposure, dtype=np.float64)


class VolumeSmaCross(SmaCross):
    """SmaCross that also reads the volume feature: refuses bars without volume (issue 12)."""

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        features.sma(self.params.fast, "volume")
        return super().target(bars, features)


class LateVolumeSmaCross(SmaCross):
    """SmaCross that reads the volume feature only for ``fast >= 10``: the plan's first parameter set
    (fast 5) runs on bars without volume, later shards do not (issue 12)."""

    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        if self.params.fast >= 10:
            features.sma(self.params.fast, "volume")
        return super().target(bars, features)
