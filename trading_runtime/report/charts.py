"""Charts shared by every report: equity curves with the drawdown of the first one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from trading_runtime.report.results import EquityCurve
from trading_runtime.report.stats import drawdown
from trading_runtime.report.svg import Box, Marker, Series, percent, xy_chart


def equity_chart(curves: Sequence[tuple[str, EquityCurve]], *, title: str,
                 markers: Sequence[Marker] = (), dashed_after: float | None = None) -> str:
    series = []
    seconds: dict[int, npt.NDArray[np.float64]] = {}  # curves of one window share their timestamps: their x once
    for i, (name, c) in enumerate(curves):
        x = seconds.get(id(c.ts))  # the curves (and so their ts) stay alive while this runs: ids are unique
        if x is None:
            x = seconds[id(c.ts)] = c.seconds
        series.append(Series(name, x, c.equity, width=2.2 if i == 0 else 1.3))
    return xy_chart(series, title=title, x_time=True, y_label="equity", markers=markers,
                    box=Box(height=320))


def drawdown_chart(name: str, curve: EquityCurve, *, title: str, markers: Sequence[Marker] = ()) -> str:
    dd = drawdown(curve.equity, curve.initial)
    return xy_chart([Series(name, curve.seconds, dd, color="#d62728", mode="area")], title=title, x_time=True,
                    y_label="drawdown", y_format=percent, markers=markers, box=Box(height=200), legend=False)


def chained(first: EquityCurve, second: EquityCurve) -> EquityCurve:
    """``second`` (which starts from its own initial cash) continued from where ``first`` ends."""
    scale = float(first.equity[-1]) / second.initial
    return EquityCurve(np.concatenate((first.ts, second.ts)), np.concatenate((first.equity, second.equity * scale)),
                       first.initial)
