"""The report page: one self-contained HTML file (inline CSS and SVG, no scripts, no external URLs).

A Content-Security-Policy ``default-src 'none'`` in the page itself makes the browser refuse any
network or file load, so a report that renders here renders the same with no network. Sections are
``<section id=…>`` elements listed in ``<body data-sections=…>`` (the browser test checks each).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from trading_runtime.report.svg import number, percent

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

PERCENT_METRICS = frozenset({"total_return", "cagr", "max_drawdown", "win_rate", "exposure"})
MONEY_METRICS = frozenset({"final_equity", "fees_paid", "initial_cash"})
COUNT_METRICS = frozenset({"n_trades", "max_drawdown_duration_bars", "n_bars"})

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 "DejaVu Sans",Helvetica,Arial,sans-serif;color:#222;background:#f6f7f9}
header{background:#17324d;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#c9d6e3}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 28px;position:sticky;top:0}
nav a{color:#17324d;margin-right:16px;text-decoration:none;font-size:13px}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;margin:16px 0;padding:14px 18px}
section h2{margin:0 0 10px;font-size:17px;color:#17324d}
section h3{margin:14px 0 6px;font-size:14px;color:#333}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.best td{background:#fff6d6}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:4px 0 12px}
.tile{border:1px solid #e1e4e8;border-radius:6px;padding:8px 14px;min-width:140px;background:#fbfcfd}
.tile .k{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.03em}
.tile .v{font-size:19px;font-weight:600}
.tile .v.neg{color:#b3261e}.tile .v.pos{color:#1b7f3b}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#555;font-size:12.5px;max-width:1000px}
code,pre{font:12px "DejaVu Sans Mono",Menlo,monospace}
code{white-space:nowrap}
pre{background:#f6f8fa;border:1px solid #eee;padding:8px;overflow:auto;max-height:360px}
details summary{cursor:pointer;color:#17324d;margin:6px 0}
svg.chart{background:#fff;max-width:100%;height:auto}
"""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    body: str


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def fmt(value: Any, metric: str = "") -> str:
    """A table cell's text: percentages, money and counts by metric name; null as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if metric in COUNT_METRICS or abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if metric in PERCENT_METRICS:
            return f"{value * 100:.2f}%"
        if metric in MONEY_METRICS:
            return f"{value:,.2f}"
        if metric in COUNT_METRICS:
            return f"{value:,.0f}"
        if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
            return f"{value:.4g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def metric_formatter(metric: str) -> Any:
    return percent if metric in PERCENT_METRICS else number


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None,
          row_classes: Sequence[str] | None = None, table_id: str = "") -> str:
    """Cells are pre-formatted HTML when given as ``Raw``; anything else is escaped text."""
    tid = f' id="{esc(table_id)}"' if table_id else ""
    out = [f"<table{tid}><thead><tr>", *(f"<th>{esc(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes is not None and i < len(row_classes) else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for j, cell in enumerate(row):
            is_num = numeric[j] if numeric is not None and j < len(numeric) else False
            text = cell.html if isinstance(cell, Raw) else esc(cell)
            out.append(f'<td class="num">{text}</td>' if is_num else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


@dataclass(frozen=True)
class Raw:
    """Trusted HTML for a table cell."""

    html: str


def code(text: Any) -> Raw:
    """An identifier (run id, hash) as a non-wrapping ``<code>`` cell."""
    return Raw(f"<code>{esc(text)}</code>")


def kv_table(pairs: Iterable[tuple[str, Any]], table_id: str = "") -> str:
    tid = f' id="{esc(table_id)}"' if table_id else ""
    out = [f"<table{tid}><tbody>"]
    for k, v in pairs:
        text = v.html if isinstance(v, Raw) else esc(v)
        out.append(f"<tr><th>{esc(k)}</th><td>{text}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def tiles(items: Iterable[tuple[str, Any, str]]) -> str:
    """Headline figures: (label, value, metric name for formatting and sign colour)."""
    out = ['<div class="tiles">']
    for label, value, metric in items:
        cls = ""
        if isinstance(value, int | float) and not isinstance(value, bool) and metric in (
                "total_return", "sharpe", "cagr", "objective", "t", "difference"):
            cls = " neg" if value < 0 else " pos" if value > 0 else ""
        out.append(f'<div class="tile"><div class="k">{esc(label)}</div>'
                   f'<div class="v{cls}">{esc(fmt(value, metric))}</div></div>')
    out.append("</div>")
    return "".join(out)


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    ids = " ".join(s.id for s in sections)
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="trading-runtime report">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f'<body data-sections="{esc(ids)}"><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>'
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
