"""The SVG chart module: well-formed XML, escaped text, deterministic bytes, reduced long series."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from trading_runtime.report.svg import (
    Axis,
    Marker,
    Series,
    bar_chart,
    coords,
    f,
    heatmap,
    nice_ticks,
    parallel_coordinates,
    reduce_points,
    sequential_color,
    time_ticks,
    xy_chart,
)

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def test_coordinates_are_short_and_never_negative_zero():
    assert [f(v) for v in (1.0, 1.25, -0.04, 12.3456, 0.0)] == ["1", "1.2", "0", "12.3", "0"]


def test_coords_writes_every_value_as_f_does():
    """The vectorised coordinates of a chart's points are f's text to the character: ties of the rounding
    (x.x5, exact or within an ulp), negatives rounding to zero, large and non-finite values included."""
    rng = np.random.default_rng(13)
    ties = np.arange(-2000, 2000) / 20.0  # every x.x5 and x.x0 of [-100, 100)
    values = np.concatenate([
        rng.uniform(-50, 1300, 200_000), rng.normal(0, 0.1, 20_000), ties, np.nextafter(ties, np.inf),
        np.nextafter(ties, -np.inf), rng.uniform(-1e9, 1e9, 1000),
        [0.0, -0.0, -0.04, -0.05, 0.05, 0.25, 0.35, 1e6, -1e6, 999_999.95, 5e-324, math.inf, -math.inf, math.nan],
    ])
    assert coords(values) == [f(v) for v in values.tolist()]
    assert coords(np.array([])) == []


def test_nice_ticks_and_time_ticks():
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(-0.23, 0.01) == [-0.2, -0.15, -0.1, -0.05, 0.0]
    day = 86400
    ticks, fmt = time_ticks(1704067200, 1704067200 + 14 * day)
    assert fmt == "%Y-%m-%d" and all(t % day == 0 for t in ticks) and 2 <= len(ticks) <= 7
    ticks, fmt = time_ticks(0, 3 * 3600)
    assert fmt == "%m-%d %H:%M" and len(ticks) >= 2


def test_reduce_points_keeps_extremes_and_ends():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 1000.0)
    y[54_321] = 5.0
    y[77_777] = -5.0
    xr, yr = reduce_points(x, y, 500)
    assert len(xr) <= 2000
    assert xr[0] == 0 and xr[-1] == 99_999
    assert 5.0 in yr and -5.0 in yr
    assert np.all(np.diff(xr) > 0)


def test_xy_chart_is_wellformed_escaped_and_deterministic():
    ts = 1704067200 + 60 * np.arange(5000)
    eq = 100_000 + np.cumsum(np.sin(np.arange(5000) / 50.0))
    series = [Series("a <&> b", ts, eq), Series("dd", ts, -np.abs(np.sin(np.arange(5000) / 80.0)), mode="area")]
    svg = xy_chart(series, title='Equity "x" <y>', x_time=True, markers=[Marker(float(ts[2500]), "split")])
    again = xy_chart(series, title='Equity "x" <y>', x_time=True, markers=[Marker(float(ts[2500]), "split")])
    assert svg == again
    root = parse(svg)
    assert root.find(f"{NS}title").text == 'Equity "x" <y>'
    paths = root.findall(f".//{NS}path")
    assert len(paths) == 2 and all(len(p.get("d", "")) > 100 for p in paths)
    assert paths[1].get("d").endswith("Z")
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert root.findall(f".//{NS}line[@class='marker']")


def test_xy_chart_markers_mode_and_missing_values():
    svg = xy_chart([Series("trials", [0, 1, 2, 3], [1.0, None, math.nan, 2.0], mode="markers",
                           colors=["#000000", "#111111", "#222222", "#333333"])], title="t")
    circles = parse(svg).findall(f".//{NS}circle")
    assert [c.get("fill") for c in circles] == ["#000000", "#333333"]
    empty = xy_chart([Series("none", [], [])], title="empty")
    assert "no data" in empty and parse(empty) is not None


def test_heatmap_cells_missing_values_and_best_outline():
    z = [[1.0, None, 3.0], [-1.0, 0.5, math.nan]]
    svg = heatmap(["10", "20", "30"], ["120", "60"], z, title="sharpe", x_label="fast", y_label="slow",
                  marked=[(0, 2)])
    root = parse(svg)
    cells = root.findall(f".//{NS}g[@class='cells']/{NS}rect")
    assert len(cells) == 6
    fills = [c.get("fill") for c in cells]
    assert fills[1] == "#eeeeee" and fills[5] == "#eeeeee"
    assert fills[2] == sequential_color(1.0) and fills[3] == sequential_color(0.0)
    assert len(root.findall(f".//{NS}rect[@class='best']")) == 1
    assert cells[0].find(f"{NS}title").text == "fast=10, slow=120: 1"


def test_bar_chart_and_parallel_coordinates():
    bars = parse(bar_chart(["fast", "slow"], [0.7, 0.3], title="importance"))
    assert len(bars.findall(f".//{NS}g[@class='bars']/{NS}rect")) == 2
    pc = parse(parallel_coordinates(
        [Axis("fast", [10, 20, 30]), Axis("kind", [0, 1, 0], labels=["a", "b"]), Axis("sharpe", [1.0, 2.0, None])],
        [1.0, 2.0, None], title="pc"))
    lines = pc.findall(f".//{NS}g[@class='lines']/{NS}path")
    assert len(lines) == 3
    assert lines[-1].get("stroke") == sequential_color(1.0)  # the best is drawn last, on top
