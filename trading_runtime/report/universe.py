"""A universe experiment's report sections: the parameters × instruments heat map and the aggregate ranking.

The per-instrument leaderboards are the experiment report's leaderboard (one window per instrument ×
fold). Both sections read ``summary.json``'s ``universe`` (``fanin.aggregate``) only.
"""

from __future__ import annotations

from typing import Any

from trading_runtime.fanin.documents import ExperimentSummary, UniverseSummary
from trading_runtime.report.html import Section, esc, fmt, table
from trading_runtime.report.svg import heatmap

MAX_HEATMAP_ROWS = 60
"""Parameter sets drawn at most (the best by the aggregate first, then the unranked): a readable map."""


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _heatmap(u: UniverseSummary) -> str:
    symbols = [i.symbol for i in u.instruments]
    ranked = [_params_text(r.params) for r in u.ranking]
    rows = {_params_text(p): values for p, values in zip(u.matrix.params, u.matrix.values, strict=True)}
    order = ranked + [label for label in rows if label not in ranked]
    shown = order[:MAX_HEATMAP_ROWS]
    return heatmap(symbols, shown, [rows[label] for label in shown],
                   title=f"in-sample {u.metric} per instrument (rows: parameter sets, best by {u.aggregate} first)",
                   x_label="instrument", y_label="parameters", higher_is_better=u.direction == "maximize",
                   width=max(430, 70 + 60 * len(symbols)))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def universe_sections(summary: ExperimentSummary) -> list[Section]:
    u = summary.universe
    if u is None:
        return []
    symbols = [i.symbol for i in u.instruments]
    headers = ["rank", "parameters", f"{u.aggregate} of {u.metric}", "mean", "share positive", *symbols]
    rows = [[r.rank, _params_text(r.params), fmt(r.aggregate, u.metric), fmt(r.mean, u.metric),
             _share(r.share_positive), *(fmt(r.instruments.get(s), u.metric) for s in symbols)]
            for r in u.ranking]
    note = (f'<p class="note">{u.ranked} of {u.parameter_sets} parameter sets ranked by the {esc(u.aggregate)} of '
            f"their in-sample {esc(u.metric)} over {len(symbols)} instruments ({u.undefined_aggregate} undefined: "
            "a broken constraint or no objective on an instrument). Per-instrument leaderboards: the "
            "Leaderboard section, one window per instrument.</p>")
    ranking = table(headers, rows, numeric=[True, False, *([True] * (len(headers) - 2))],
                    row_classes=["best"] if rows else None, table_id="universe-ranking")
    return [Section("universe", "Universe: aggregate ranking", note + ranking),
            Section("universe-heatmap", "Universe: parameters × instruments", _heatmap(u))]
