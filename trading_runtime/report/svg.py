"""Hand-written inline SVG charts: line/area/scatter, heatmap, horizontal bars, parallel coordinates.

Pure functions from numbers to SVG text, deterministic to the byte: coordinates are rounded to
0.1 px and written without trailing zeros, long series are reduced to the min and max of each
pixel-wide bucket (the shape survives), colours come from fixed palettes, and nothing depends on
the clock or on dict/set order. No scripts, no external references: a report stays self-contained.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape

import numpy as np
import numpy.typing as npt

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
# Viridis at five stops: low → high.
SEQUENTIAL = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
AXIS = "#555"
GRID = "#e5e5e5"

Formatter = Callable[[float], str]


def f(v: float) -> str:
    """A coordinate: one decimal, no trailing zeros, never ``-0``."""
    text = f"{v:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_EXACT_BELOW = 1e6
"""|values| below which ``coords`` formats from the rounded tenths (``v * 10`` is then within 1e-9 of the exact
tenths, far inside the 1e-6 margin kept from each rounding tie); the others are formatted one by one by ``f``."""


def coords(values: npt.NDArray[np.float64]) -> list[str]:
    """``[f(v) for v in values]``, the same text, without a call of ``f`` per value: each value's tenths rounded
    to an integer k (the correctly rounded tenth, as ``f"{v:.1f}"`` gives, unless v * 10 is within 1e-6 of a
    tie or v is not finite or not small: those values go through ``f``), written as k // 10, then "." and
    k % 10 unless 0, with the sign of k (so never "-0")."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        tenths = v * 10.0
        fraction = np.abs(tenths - np.trunc(tenths))
        exact = (np.abs(v) < _EXACT_BELOW) & (np.abs(fraction - 0.5) > 1e-6)  # False for NaN and inf
    k = np.rint(np.where(exact, tenths, 0.0)).astype(np.int64)
    magnitude = np.abs(k)
    units, digits = (magnitude // 10).tolist(), (magnitude % 10).tolist()
    if k.min(initial=0) >= 0:  # a chart's coordinates: none negative
        out = [str(u) + _TENTH[d] for u, d in zip(units, digits, strict=True)]
    else:
        out = [("-" if s else "") + str(u) + _TENTH[d] for s, u, d in zip((k < 0).tolist(), units, digits, strict=True)]
    for i in np.flatnonzero(~exact).tolist():
        out[i] = f(float(v[i]))
    return out


_TENTH = ("", *(f".{d}" for d in range(1, 10)))  # a tenths digit's text ("" for 0)


def number(v: float) -> str:
    """Compact, deterministic tick/label text for a number."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.4g}M"
    if a >= 1e4:
        return f"{v / 1e3:.4g}k"
    if a >= 1:
        return f"{v:.4g}"
    return f"{v:.3g}"


def percent(v: float) -> str:
    return f"{v * 100:.3g}%" if abs(v) >= 0.001 or v == 0 else f"{v * 100:.2g}%"


def _esc(text: str) -> str:
    return escape(text, quote=True)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi], about ``target`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


_TIME_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
               14 * 86400, 28 * 86400, 91 * 86400, 182 * 86400, 364 * 86400)


def time_ticks(lo_s: float, hi_s: float, target: int = 6) -> tuple[list[float], str]:
    """Tick times (seconds since the epoch, UTC) and their strftime format."""
    span = max(hi_s - lo_s, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= target), _TIME_STEPS[-1])
    first = math.ceil(lo_s / step)
    ticks = [float(k * step) for k in range(first, math.floor(hi_s / step) + 1)]
    fmt = "%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M"
    return ticks, fmt


def _utc(seconds: float, fmt: str) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(fmt)


def reduce_points(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
                  buckets: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """At most ``2 × buckets`` points: the first, min, max and last of each bucket, in order.

    Min and max are over the bucket's finite values (the first occurrence of each); a bucket
    without a finite value keeps only its first point. Vectorised over the buckets.
    """
    if len(x) <= 2 * buckets:
        return x, y
    finite = np.isfinite(y)
    if finite.all():  # an equity curve: per bucket, its first min and max
        del finite
        return reduce_finite_points(x, y, buckets)
    return _reduce_masked(x, y, *_buckets(len(x), buckets), finite)


def reduce_finite_points(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
                         buckets: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``reduce_points`` of a series whose y are all finite (the caller knows: no check of them here)."""
    if len(x) <= 2 * buckets:
        return x, y
    return _reduce_finite(x, y, *_buckets(len(x), buckets))


def _buckets(n: int, buckets: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The starts and stops of ``buckets`` near-equal buckets of ``n`` points (the empty ones left out)."""
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, stops = edges[:-1], edges[1:]
    filled = stops > starts
    return starts[filled], stops[filled]


def _reduce_masked(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], starts: npt.NDArray[np.int64],
                   stops: npt.NDArray[np.int64], finite: npt.NDArray[np.bool_]
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``reduce_points`` of a series with NaN or inf values, vectorised over the buckets."""
    low = np.where(finite, y, np.inf)
    high = np.where(finite, y, -np.inf)
    bucket = np.repeat(np.arange(len(starts)), stops - starts)
    mins = np.minimum.reduceat(low, starts)
    maxs = np.maximum.reduceat(high, starts)
    any_finite = np.logical_or.reduceat(finite, starts)
    # first index in each bucket holding its min (max): the first True of each bucket's run
    lo = _first_per_bucket(np.flatnonzero(low == mins[bucket]), bucket, len(starts))
    hi = _first_per_bucket(np.flatnonzero(high == maxs[bucket]), bucket, len(starts))
    rows = np.sort(np.stack([starts, lo, hi, stops - 1], axis=1), axis=1)
    keep = np.ones(rows.shape, dtype=bool)
    keep[:, 1:] = rows[:, 1:] != rows[:, :-1]  # the set of the four, sorted
    keep[~any_finite, 1:] = False  # no finite value: the first point only
    idx = rows[keep]
    return x[idx], y[idx]


Indices = Sequence[int] | npt.NDArray[np.int64]


def _reduce_finite(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], starts: Indices,
                   stops: Indices) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``reduce_points`` of finite ``y``: the same points as ``_reduce_masked``, without temporaries the size of
    the series. The buckets' first ``q`` values (q the shortest bucket's length) are copied a block of buckets
    at a time as the rows of a matrix (each a window of ``y``), whose ``argmin``/``argmax`` along the rows give
    each bucket's first min/max among them; a bucket's values after its first q (linspace buckets: at most one)
    replace them only when strictly lower/higher, so the first occurrence is kept."""
    first = np.asarray(starts, dtype=np.int64)
    stop = np.asarray(stops, dtype=np.int64)
    sizes = stop - first
    q = int(sizes.min())
    windows = np.lib.stride_tricks.sliding_window_view(y, q)  # a view: row i is y[i:i + q]
    lo, hi = np.empty_like(first), np.empty_like(first)
    low, high = np.empty(len(first)), np.empty(len(first))
    step = max(_BLOCK // q, 1)
    for b in range(0, len(first), step):
        rows = windows[first[b:b + step]]  # a copy of (at most) _BLOCK values
        lo[b:b + step], hi[b:b + step] = rows.argmin(axis=1), rows.argmax(axis=1)
        picked = np.arange(len(rows))
        low[b:b + step], high[b:b + step] = rows[picked, lo[b:b + step]], rows[picked, hi[b:b + step]]
        del rows
    lo += first
    hi += first
    for j in range(q, int(sizes.max())):  # the values after the first q of the longer buckets
        longer = np.flatnonzero(sizes > j)
        at = first[longer] + j
        value = y[at]
        lower, higher = value < low[longer], value > high[longer]
        lo[longer[lower]], low[longer[lower]] = at[lower], value[lower]
        hi[longer[higher]], high[longer[higher]] = at[higher], value[higher]
    rows4 = np.sort(np.stack([first, lo, hi, stop - 1], axis=1), axis=1)
    keep = np.ones(rows4.shape, dtype=bool)
    keep[:, 1:] = rows4[:, 1:] != rows4[:, :-1]  # the set of the four, sorted
    idx = rows4[keep]
    return x[idx], y[idx]


_BLOCK = 1 << 16
"""Values copied at a time by ``_reduce_finite`` (512 KiB of float64)."""


def _first_per_bucket(hits: npt.NDArray[np.intp], bucket: npt.NDArray[np.intp],
                      n_buckets: int) -> npt.NDArray[np.int64]:
    """For each bucket, the smallest index in ``hits`` (sorted) that lies in it."""
    owners = bucket[hits]
    first = np.searchsorted(owners, np.arange(n_buckets), side="left")
    return hits[np.minimum(first, len(hits) - 1)].astype(np.int64)


@dataclass(frozen=True)
class Series:
    """One trace of an :func:`xy_chart`: ``mode`` is line, area (filled to zero), markers or step."""

    name: str
    x: Sequence[float] | npt.NDArray[np.float64]
    y: Sequence[float | None] | npt.NDArray[np.float64]
    color: str | None = None
    mode: str = "line"
    dashed: bool = False
    width: float = 1.6
    radius: float = 3.0
    colors: Sequence[str] | None = None  # per-point marker colours (markers mode)


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a label (fold boundaries, the holdout split)."""

    x: float
    label: str = ""


@dataclass(frozen=True)
class Box:
    width: int = 1140
    height: int = 300
    left: int = 70
    right: int = 20
    top: int = 34
    bottom: int = 40
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom


def _open(box: Box, kind: str, title: str) -> list[str]:
    attrs = "".join(f' {k}="{_esc(v)}"' for k, v in sorted(box.extra.items()))
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-kind="{kind}" role="img" '
        f'viewBox="0 0 {box.width} {box.height}" width="{box.width}" height="{box.height}" '
        f'font-family="{FONT}" font-size="11"{attrs}>',
        f"<title>{_esc(title)}</title>",
        f'<text x="{box.left}" y="18" font-size="13" font-weight="600" fill="#222">{_esc(title)}</text>',
    ]


def _finite_array(values: Sequence[float | None] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # numpy turns None into NaN for a float dtype; arrays pass through without a Python loop
    return np.asarray(values, dtype=np.float64)


def xy_chart(series: Sequence[Series], *, title: str, x_time: bool = False, x_label: str = "",
             y_label: str = "", y_format: Formatter = number, x_format: Formatter = number,
             markers: Sequence[Marker] = (), zero_line: bool = False, box: Box | None = None,
             legend: bool = True, y_range: tuple[float, float] | None = None) -> str:
    """Lines, filled areas, steps and scatter points on shared axes. ``x_time``: x in epoch seconds."""
    box = box or Box()
    items = [(s.name, s.color or PALETTE[i % len(PALETTE)], s.mode) for i, s in enumerate(series)]
    legend_row = 0
    if legend and len(series) > 1 and _title_width(title) + 12 > box.plot_w - _legend_width(items):
        legend_row = 16  # no room beside the title: the legend gets a row of its own
        box = replace(box, top=box.top + legend_row, height=box.height + legend_row)
    out = _open(box, "xy", title)
    data = []
    for s in series:
        x = _finite_array(s.x)
        y = _finite_array(s.y)
        data.append((s, x, y, bool(np.isfinite(y).all())))
    # The extremes of every series' finite points: per series, then over the series (np.min/np.max of the
    # per-series extremes equal those of all points joined, NaN included; no joined copy of every series).
    extremes = []
    x_range: dict[int, tuple[float, float]] = {}  # by x array: the curves of one window share theirs
    for _, x, y, all_finite in data:
        if all_finite and len(y):  # no masked copies of a series without NaN or inf (an equity curve)
            if id(x) not in x_range:
                x_range[id(x)] = (x.min(), x.max())
            extremes.append((*x_range[id(x)], y.min(), y.max()))
        elif not all_finite and (finite := np.isfinite(y)).any():
            xf, yf = x[finite], y[finite]
            extremes.append((xf.min(), xf.max(), yf.min(), yf.max()))
            del xf, yf, finite
    if not extremes:
        out.append(f'<text x="{box.left}" y="{box.top + 20}" fill="#888">no data</text></svg>')
        return "".join(out)
    lows_highs = np.array(extremes, dtype=np.float64)
    x_lo, x_hi = float(lows_highs[:, 0].min()), float(lows_highs[:, 1].max())
    for m in markers:
        x_lo, x_hi = min(x_lo, m.x), max(x_hi, m.x)
    y_lo, y_hi = (float(lows_highs[:, 2].min()), float(lows_highs[:, 3].max())) if y_range is None else y_range
    if any(s.mode == "area" for s in series) or zero_line:
        y_lo, y_hi = min(y_lo, 0.0), max(y_hi, 0.0)
    if y_hi == y_lo:
        pad = abs(y_hi) * 0.05 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    else:
        pad = (y_hi - y_lo) * 0.04
        y_lo, y_hi = (y_lo if y_lo == 0 else y_lo - pad), (y_hi if y_hi == 0 else y_hi + pad)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if not x_time and any(s.mode == "markers" for s in series):
        px = (x_hi - x_lo) * 0.02
        x_lo, x_hi = x_lo - px, x_hi + px

    def sx(v: float) -> float:
        return box.left + (v - x_lo) / (x_hi - x_lo) * box.plot_w

    def sy(v: float) -> float:
        return box.top + (y_hi - v) / (y_hi - y_lo) * box.plot_h

    out.append(f'<g class="grid" stroke="{GRID}" stroke-width="1">')
    y_ticks = [t for t in nice_ticks(y_lo, y_hi) if y_lo <= t <= y_hi]
    for t in y_ticks:
        out.append(f'<line x1="{box.left}" x2="{box.left + box.plot_w}" y1="{f(sy(t))}" y2="{f(sy(t))}"/>')
    out.append("</g>")
    out.append(f'<g class="axis" fill="{AXIS}">')
    for t in y_ticks:
        out.append(f'<text x="{box.left - 6}" y="{f(sy(t) + 4)}" text-anchor="end">{_esc(y_format(t))}</text>')
    if x_time:
        ticks, fmt = time_ticks(x_lo, x_hi)
        labels = [(t, _utc(t, fmt)) for t in ticks]
    else:
        labels = [(t, x_format(t)) for t in nice_ticks(x_lo, x_hi, 8) if x_lo <= t <= x_hi]
    for t, text in labels:
        out.append(f'<text x="{f(sx(t))}" y="{box.top + box.plot_h + 16}" text-anchor="middle">{_esc(text)}</text>')
    if x_label:
        out.append(f'<text x="{f(box.left + box.plot_w / 2)}" y="{box.height - 6}" '
                   f'text-anchor="middle">{_esc(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(14 {f(box.top + box.plot_h / 2)}) rotate(-90)" '
                   f'text-anchor="middle">{_esc(y_label)}</text>')
    out.append("</g>")
    out.append(f'<rect x="{box.left}" y="{box.top}" width="{box.plot_w}" height="{box.plot_h}" fill="none" '
               f'stroke="#bbb"/>')
    if zero_line and y_lo < 0 < y_hi:
        out.append(f'<line x1="{box.left}" x2="{box.left + box.plot_w}" y1="{f(sy(0))}" y2="{f(sy(0))}" '
                   f'stroke="#999" stroke-dasharray="3 3"/>')
    for m in markers:
        out.append(f'<line class="marker" x1="{f(sx(m.x))}" x2="{f(sx(m.x))}" y1="{box.top}" '
                   f'y2="{box.top + box.plot_h}" stroke="#888" stroke-dasharray="4 3"/>')
        if m.label:
            out.append(f'<text x="{f(sx(m.x) + 3)}" y="{box.top + 11}" fill="#666" font-size="10">'
                       f'{_esc(m.label)}</text>')
    buckets = max(box.plot_w, 50)
    for i, (s, x, y, all_finite) in enumerate(data):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.mode == "markers":
            out.append(f'<g class="series" data-name="{_esc(s.name)}" fill="{color}" fill-opacity="0.8">')
            for j in np.flatnonzero(np.isfinite(y)):
                c = s.colors[int(j)] if s.colors is not None else None
                fill = f' fill="{c}"' if c else ""
                out.append(f'<circle cx="{f(sx(float(x[j])))}" cy="{f(sy(float(y[j])))}" r="{f(s.radius)}"{fill}/>')
            out.append("</g>")
            continue
        if all_finite:
            xr, yr = reduce_finite_points(x, y, buckets)
        else:
            ok = np.isfinite(y)
            xr, yr = reduce_finite_points(x[ok], y[ok], buckets)  # (their finite points only)
            del ok
        if len(xr) == 0:
            continue
        # sx and sy of every point at once (the same operations in the same order: the same floats)
        xs = coords(box.left + (xr - x_lo) / (x_hi - x_lo) * box.plot_w)
        ys = coords(box.top + (y_hi - yr) / (y_hi - y_lo) * box.plot_h)
        if s.mode == "step":
            pts = [f"{xs[0]},{ys[0]}"]
            for k in range(1, len(xs)):
                pts.append(f"{xs[k]},{ys[k - 1]}")
                pts.append(f"{xs[k]},{ys[k]}")
        else:
            pts = [f"{px},{py}" for px, py in zip(xs, ys, strict=True)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        if s.mode == "area":
            base = f(sy(0.0))
            path = f"M{f(sx(float(xr[0])))},{base} L" + " L".join(pts) + f" L{f(sx(float(xr[-1])))},{base} Z"
            out.append(f'<path class="series" data-name="{_esc(s.name)}" d="{path}" fill="{color}" '
                       f'fill-opacity="0.25" stroke="{color}" stroke-width="1"/>')
        else:
            out.append(f'<path class="series" data-name="{_esc(s.name)}" d="M' + " L".join(pts) + '" fill="none" '
                       f'stroke="{color}" stroke-width="{f(s.width)}" stroke-linejoin="round"{dash}/>')
    if legend and len(series) > 1:
        out.extend(_legend(items, box, 14 + legend_row))
    out.append("</svg>")
    return "".join(out)


def _label(name: str) -> str:
    return name if len(name) <= 28 else name[:27] + "…"


def _legend_width(items: list[tuple[str, str, str]]) -> float:
    return sum(18 + 6.2 * len(_label(name)) + 8 for name, _, _ in items)


def _title_width(title: str) -> float:
    return 7.6 * len(title)  # 13 px bold DejaVu Sans, about


def _legend(items: list[tuple[str, str, str]], box: Box, y: float = 14) -> list[str]:
    out = ['<g class="legend" font-size="10">']
    x: float = box.left + box.plot_w
    for name, color, mode in reversed(items):
        label = _label(name)
        x -= 18 + 6.2 * len(label) + 8
        shape = (f'<circle cx="{f(x + 5)}" cy="{f(y)}" r="4" fill="{color}"/>' if mode == "markers" else
                 f'<rect x="{f(x)}" y="{f(y - 2)}" width="12" height="4" fill="{color}"/>')
        out.append(shape + f'<text x="{f(x + 16)}" y="{f(y + 4)}" fill="#333">{_esc(label)}</text>')
    out.append("</g>")
    return out


def sequential_color(t: float) -> str:
    """Viridis-like colour of ``t`` in [0, 1]."""
    t = min(max(t, 0.0), 1.0) * (len(SEQUENTIAL) - 1)
    i = min(int(t), len(SEQUENTIAL) - 2)
    u = t - i
    a, b = SEQUENTIAL[i], SEQUENTIAL[i + 1]
    r, g, bl = (round(a[k] + (b[k] - a[k]) * u) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _text_color(hex_color: str) -> str:
    r, g, b = (int(hex_color[k:k + 2], 16) for k in (1, 3, 5))
    return "#111" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def heatmap(x_values: Sequence[str], y_values: Sequence[str], z: Sequence[Sequence[float | None]], *, title: str,
            x_label: str, y_label: str, z_format: Formatter = number, higher_is_better: bool = True,
            marked: Sequence[tuple[int, int]] = (), cell_notes: dict[tuple[int, int], str] | None = None,
            width: int = 430) -> str:
    """Cells z[row][col] (rows = y values, top row first). None cells are grey; ``marked`` are outlined."""
    n_rows, n_cols = len(y_values), len(x_values)
    left, top, right, bottom = 70, 34, 16, 54
    cell_w = max(min((width - left - right) / max(n_cols, 1), 90.0), 14.0)
    cell_h = max(min(28.0, 360 / max(n_rows, 1)), 12.0)
    w = int(left + right + cell_w * n_cols)
    h = int(top + bottom + cell_h * n_rows)
    box = Box(width=max(w, 260), height=h, left=left, right=right, top=top, bottom=bottom)
    out = _open(box, "heatmap", title)
    vals = [v for row in z for v in row if v is not None and math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    show_text = cell_w >= 34 and cell_h >= 16
    out.append('<g class="cells">')
    for r in range(n_rows):
        for c in range(n_cols):
            v = z[r][c]
            x, y = left + c * cell_w, top + r * cell_h
            note = (cell_notes or {}).get((r, c), "")
            if v is None or not math.isfinite(v):
                fill, text = "#eeeeee", "–"
            else:
                t = 0.5 if hi == lo else (v - lo) / (hi - lo)
                fill, text = sequential_color(t if higher_is_better else 1.0 - t), z_format(v)
            tip = f"{x_label}={x_values[c]}, {y_label}={y_values[r]}: {text}{(' ' + note) if note else ''}"
            out.append(f'<rect x="{f(x)}" y="{f(y)}" width="{f(cell_w)}" height="{f(cell_h)}" fill="{fill}" '
                       f'stroke="#fff" stroke-width="1"><title>{_esc(tip)}</title></rect>')
            if show_text:
                color = "#777" if fill == "#eeeeee" else _text_color(fill)
                out.append(f'<text x="{f(x + cell_w / 2)}" y="{f(y + cell_h / 2 + 4)}" text-anchor="middle" '
                           f'fill="{color}" font-size="10">{_esc(text)}</text>')
    out.append("</g>")
    for r, c in marked:
        out.append(f'<rect class="best" x="{f(left + c * cell_w + 1)}" y="{f(top + r * cell_h + 1)}" '
                   f'width="{f(cell_w - 2)}" height="{f(cell_h - 2)}" fill="none" stroke="#e4002b" stroke-width="2"/>')
    out.append(f'<g class="axis" fill="{AXIS}">')
    step = max(1, math.ceil(n_cols / max(1, (w - left) // 40)))
    for c in range(0, n_cols, step):
        out.append(f'<text x="{f(left + (c + 0.5) * cell_w)}" y="{f(top + n_rows * cell_h + 14)}" '
                   f'text-anchor="middle">{_esc(x_values[c])}</text>')
    rstep = max(1, math.ceil(n_rows / max(1, (h - top - bottom) // 12)))
    for r in range(0, n_rows, rstep):
        out.append(f'<text x="{left - 6}" y="{f(top + (r + 0.5) * cell_h + 4)}" text-anchor="end">'
                   f'{_esc(y_values[r])}</text>')
    out.append(f'<text x="{f(left + n_cols * cell_w / 2)}" y="{f(top + n_rows * cell_h + 32)}" '
               f'text-anchor="middle">{_esc(x_label)}</text>')
    out.append(f'<text transform="translate(14 {f(top + n_rows * cell_h / 2)}) rotate(-90)" '
               f'text-anchor="middle">{_esc(y_label)}</text>')
    if vals:
        out.append(f'<text x="{left}" y="{f(top + n_rows * cell_h + 48)}" font-size="10">'
                   f'{_esc(z_format(lo))} </text>')
        for k in range(10):
            t = k / 9
            out.append(f'<rect x="{f(left + 40 + k * 10)}" y="{f(top + n_rows * cell_h + 40)}" width="10" height="9" '
                       f'fill="{sequential_color(t if higher_is_better else 1 - t)}"/>')
        out.append(f'<text x="{left + 146}" y="{f(top + n_rows * cell_h + 48)}" font-size="10">'
                   f'{_esc(z_format(hi))}</text>')
    out.append("</g></svg>")
    return "".join(out)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, value_format: Formatter = number,
              width: int = 430, color: str = PALETTE[0]) -> str:
    """Horizontal bars, one per label (in the given order), values ≥ 0."""
    left = int(min(max((max((len(s) for s in labels), default=4)) * 6.5 + 14, 60), 200))
    bar_h, gap, top = 18, 6, 34
    h = top + len(labels) * (bar_h + gap) + 10
    box = Box(width=width, height=max(h, 60), left=left, right=60, top=top, bottom=10)
    out = _open(box, "bar", title)
    hi = max((v for v in values if math.isfinite(v)), default=0.0)
    out.append(f'<g class="bars" fill="{color}">')
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        length = 0.0 if hi <= 0 or not math.isfinite(v) else max(v, 0.0) / hi * box.plot_w
        out.append(f'<rect x="{left}" y="{y}" width="{f(max(length, 1.0))}" height="{bar_h}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" fill="#333">{_esc(label)}</text>')
        out.append(f'<text x="{f(left + length + 4)}" y="{y + 13}" fill="#333">{_esc(value_format(v))}</text>')
    out.append("</g></svg>")
    return "".join(out)


@dataclass(frozen=True)
class Axis:
    """One vertical axis of :func:`parallel_coordinates`: numeric values, or categories by label."""

    name: str
    values: Sequence[float | None]
    labels: Sequence[str] | None = None  # categorical: values are indices into labels


def parallel_coordinates(axes: Sequence[Axis], color_values: Sequence[float | None], *, title: str,
                         higher_is_better: bool = True, box: Box | None = None,
                         value_format: Formatter = number) -> str:
    """One polyline per item across the axes, coloured by ``color_values`` (best = bright)."""
    box = box or Box(height=320, left=40, right=40, top=40, bottom=30)
    out = _open(box, "parallel", title)
    n_axes = len(axes)
    n = len(color_values)
    xs = [box.left + (k * box.plot_w / max(n_axes - 1, 1)) for k in range(n_axes)]
    ranges = []
    for a in axes:
        vals = [float(v) for v in a.values if v is not None and math.isfinite(float(v))]
        if a.labels is not None:
            ranges.append((0.0, float(max(len(a.labels) - 1, 1))))
        else:
            ranges.append((min(vals), max(vals)) if vals else (0.0, 1.0))
    cvals = [v for v in color_values if v is not None and math.isfinite(v)]
    c_lo, c_hi = (min(cvals), max(cvals)) if cvals else (0.0, 1.0)

    def y_of(k: int, v: float) -> float:
        lo, hi = ranges[k]
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        return box.top + (1.0 - t) * box.plot_h

    def rank(v: float | None) -> float:
        if v is None or not math.isfinite(v):
            return -1.0
        t = 0.5 if c_hi == c_lo else (v - c_lo) / (c_hi - c_lo)
        return t if higher_is_better else 1.0 - t

    order = sorted(range(n), key=lambda i: (rank(color_values[i]), i))  # best drawn last (on top)
    out.append('<g class="lines" fill="none" stroke-width="1.2" stroke-opacity="0.75">')
    for i in order:
        pts = []
        for k, a in enumerate(axes):
            v = a.values[i]
            if v is None or not math.isfinite(float(v)):
                continue
            pts.append(f"{f(xs[k])},{f(y_of(k, float(v)))}")
        if len(pts) < 2:
            continue
        t = rank(color_values[i])
        color = "#cccccc" if t < 0 else sequential_color(t)
        out.append(f'<path d="M{" L".join(pts)}" stroke="{color}"/>')
    out.append("</g>")
    out.append(f'<g class="axis" fill="{AXIS}" font-size="10">')
    for k, a in enumerate(axes):
        x = f(xs[k])
        out.append(f'<line x1="{x}" x2="{x}" y1="{box.top}" y2="{box.top + box.plot_h}" stroke="#444"/>')
        out.append(f'<text x="{x}" y="{box.top - 8}" text-anchor="middle" fill="#222" font-size="11">'
                   f'{_esc(a.name)}</text>')
        lo, hi = ranges[k]
        if a.labels is not None:
            for j, label in enumerate(a.labels):
                out.append(f'<text x="{f(xs[k] + 4)}" y="{f(y_of(k, float(j)) + 3)}">{_esc(label)}</text>')
        else:
            for v in (lo, hi) if hi != lo else (lo,):
                out.append(f'<text x="{f(xs[k] + 4)}" y="{f(y_of(k, v) + 3)}">{_esc(value_format(v))}</text>')
    out.append("</g></svg>")
    return "".join(out)
