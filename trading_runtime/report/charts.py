"""Charts shared by every report: equity curves with the drawdown of the first one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from trading_runtime.report.results import EquityCurve
from trading_runtime.report.stats import drawdown
from trading_runtime.report.svg import Box, Marker, Series, percent, xy_chart

Seconds = dict[tuple[int, int, int], npt.NDArray[np.float64]]
"""A curve's timestamps in seconds (``EquityCurve.seconds``) by the memory of its ``ts`` (address, length, stride):
the curves of one window share their timestamps, in memory too (slices of the data, views of a blob), so their
x is computed once. Kept while the curves live (a chart's or a section's curves): the same memory, the same
values."""


def seconds_of(curve: EquityCurve, known: Seconds) -> npt.NDArray[np.float64]:
    ts = curve.ts
    key = (int(ts.__array_interface__["data"][0]), len(ts), ts.strides[0] if ts.ndim == 1 else 0)
    x = known.get(key)
    if x is None:
        x = known[key] = curve.seconds
    return x


def equity_chart(curves: Sequence[tuple[str, EquityCurve]], *, title: str,
                 markers: Sequence[Marker] = (), dashed_after: float | None = None,
                 seconds: Seconds | None = None) -> str:
    """``seconds``: the x of curves already charted (see ``Seconds``; this chart's are added to it)."""
    known: Seconds = {} if seconds is None else seconds
    series = [Series(name, seconds_of(c, known), c.equity, width=2.2 if i == 0 else 1.3)
              for i, (name, c) in enumerate(curves)]
    return xy_chart(series, title=title, x_time=True, y_label="equity", markers=markers,
                    box=Box(height=320))


def drawdown_chart(name: str, curve: EquityCurve, *, title: str, markers: Sequence[Marker] = (),
                   seconds: Seconds | None = None) -> str:
    dd = drawdown(curve.equity, curve.initial)
    x = curve.seconds if seconds is None else seconds_of(curve, seconds)
    return xy_chart([Series(name, x, dd, color="#d62728", mode="area")], title=title, x_time=True,
                    y_label="drawdown", y_format=percent, markers=markers, box=Box(height=200), legend=False)


def chained(first: EquityCurve, second: EquityCurve) -> EquityCurve:
    """``second`` (which starts from its own initial cash) continued from where ``first`` ends."""
    scale = float(first.equity[-1]) / second.initial
    return EquityCurve(np.concatenate((first.ts, second.ts)), np.concatenate((first.equity, second.equity * scale)),
                       first.initial)
