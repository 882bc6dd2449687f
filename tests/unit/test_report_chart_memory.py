"""The charts' memory (issue 13): an xy chart of long series finds its axes' extremes series by series,
without a joined copy of every series; its bytes are those of the joined computation (pinned below)."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np

from trading_runtime.report.svg import Box, Marker, Series, xy_chart

N = 1_000_000
SERIES = 5


def test_an_xy_chart_of_five_long_series_holds_no_joined_copy_of_them() -> None:
    x = np.arange(N, dtype=np.float64) * 60.0 + 1.7e9
    ys = [np.cumsum(np.full(N, 1e-3 * (i + 1))) for i in range(SERIES)]
    series = [Series(f"s{i}", x, y) for i, y in enumerate(ys)]
    inputs = sum(y.nbytes for y in ys) + x.nbytes
    tracemalloc.start()
    try:
        xy_chart(series, title="equity", x_time=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A joined copy of the finite points of every series (x and y) alone would be 2 × 5 × 8 MB = 80 MB;
    # series by series, the working set is one series' temporaries (~50 MiB here; 125 MiB joined).
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB over {inputs / 2**20:.0f} MiB of inputs"


def test_chart_bytes_are_unchanged_with_nan_inf_empty_and_marker_cases() -> None:
    rng = np.random.default_rng(5)
    x = np.arange(5000, dtype=np.float64) * 60 + 1.7e9
    y1 = np.cumsum(rng.normal(size=5000))
    y1[[3, 40, 4999]] = np.nan
    y2 = np.full(300, np.nan)
    y3 = rng.normal(size=7000) * 1e-3
    y3[::7] = np.inf
    charts = [
        xy_chart([Series("a", x, y1), Series("b", x[:300], y2), Series("c", np.arange(7000.0), y3, mode="area")],
                 title="t", x_time=True, markers=[Marker(1.7e9 - 100, "m")]),
        xy_chart([Series("only nan", x[:300], y2)], title="empty"),
        xy_chart([Series("dots", [1.0, 2.0, float("nan"), 4.0], [None, 2.0, 3.0, -1.0], mode="markers")],
                 title="pts", zero_line=True),
        xy_chart([], title="none"),
    ]
    # sha256 of the same charts drawn by the joined computation (commit 21f93f6)
    assert hashlib.sha256("".join(charts).encode()).hexdigest() == (
        "19ce896256a91a90e5ddd4176cc26d73ee7f8df821dbf2d06c7164ecd090eca5")


def test_curves_sharing_their_timestamps_in_memory_share_their_x() -> None:
    """The top runs of one window (slices of the same bars, views of one blob) are charted with one x computed
    for them all, the best's drawdown too (``charts.Seconds``); the charts' bytes are those of each curve's own
    ``seconds``. Equal timestamps in other memory get an x of their own."""
    from trading_runtime.report.charts import Seconds, drawdown_chart, equity_chart
    from trading_runtime.report.results import EquityCurve

    rng = np.random.default_rng(9)
    bars_ts = (np.arange(20_000, dtype=np.int64) + 28_000_000) * 60_000_000_000
    window = bars_ts[1_000:]  # one window's timestamps, as every run of it sees them
    curves = [(f"#{i}", EquityCurve(window[:], 1e5 + np.cumsum(rng.normal(size=len(window))), 1e5))
              for i in range(4)]
    curves.append(("copy", EquityCurve(window.copy(), curves[0][1].equity, 1e5)))
    seconds: Seconds = {}
    chart = equity_chart(curves, title="top", seconds=seconds)
    down = drawdown_chart("#0", curves[0][1], title="dd", seconds=seconds)
    assert len(seconds) == 2  # the shared window, and the copy
    assert chart == equity_chart(curves, title="top") == xy_chart(
        [Series(name, c.seconds, c.equity, width=2.2 if i == 0 else 1.3) for i, (name, c) in enumerate(curves)],
        title="top", x_time=True, y_label="equity", box=Box(height=320))
    assert down == drawdown_chart("#0", curves[0][1], title="dd")
