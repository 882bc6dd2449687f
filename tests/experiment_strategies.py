"""Strategies for the experiment tests (loaded with ``--allow-strategy-prefix tests.experiment_strategies``)."""

from __future__ import annotations

from pydantic import Field

from trading_framework import Bars, FeatureCache
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
