"""A universe's report sections: the aggregate ranking table and the rows × instruments heat map.

An experiment (``universe_sections``): the parameter sets ranked by their aggregate, from
``summary.json``'s ``universe`` (``fanin.aggregate``) only; its per-instrument leaderboards are the
experiment report's leaderboard (one window per instrument × fold). An Optuna study
(``report.optuna``) draws its trials with the same table and heat map (``ranking_table``,
``instrument_heatmap``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trading_runtime.fanin.documents import ExperimentSummary, UniverseSummary
from trading_runtime.report.html import Section, esc, fmt, table
from trading_runtime.report.svg import heatmap

MAX_HEATMAP_ROWS = 60
"""Rows (parameter sets, trials) drawn at most (the best by the aggregate first, then the unranked): a readable map."""


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def instrument_heatmap(symbols: Sequence[str], labels: Sequence[str], values: Sequence[Sequence[float | None]], *,
                       metric: str, aggregate: str, direction: str, rows: str, y_label: str) -> str:
    """The in-sample ``metric`` of each row (best by ``aggregate`` first) on each instrument; the first
    ``MAX_HEATMAP_ROWS`` rows only."""
    return heatmap(symbols, labels[:MAX_HEATMAP_ROWS], values[:MAX_HEATMAP_ROWS],
                   title=f"in-sample {metric} per instrument (rows: {rows}, best by {aggregate} first)",
                   x_label="instrument", y_label=y_label, higher_is_better=direction == "maximize",
                   width=max(430, 70 + 60 * len(symbols)))


@dataclass(frozen=True)
class RankedRow:
    """One row of a ranking table: its identity cells (rank, trial, parameters …) then its values."""

    lead: list[Any]
    aggregate: float | None
    mean: float | None
    share_positive: float | None
    instruments: Mapping[str, float | None]


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def ranking_table(lead_headers: Sequence[str], lead_numeric: Sequence[bool], rows: Sequence[RankedRow],
                  symbols: Sequence[str], *, metric: str, aggregate: str, table_id: str) -> str:
    """The rows as ranked, the first one marked best: the aggregate, mean, share positive and every instrument."""
    headers = [*lead_headers, f"{aggregate} of {metric}", "mean", "share positive", *symbols]
    cells = [[*r.lead, fmt(r.aggregate, metric), fmt(r.mean, metric), _share(r.share_positive),
              *(fmt(r.instruments.get(s), metric) for s in symbols)] for r in rows]
    return table(headers, cells, numeric=[*lead_numeric, *([True] * (len(headers) - len(lead_headers)))],
                 row_classes=["best"] if cells else None, table_id=table_id)


def _heatmap(u: UniverseSummary) -> str:
    symbols = [i.symbol for i in u.instruments]
    ranked = [params_text(r.params) for r in u.ranking]
    rows = {params_text(p): values for p, values in zip(u.matrix.params, u.matrix.values, strict=True)}
    order = ranked + [label for label in rows if label not in ranked]
    return instrument_heatmap(symbols, order, [rows[label] for label in order], metric=u.metric,
                              aggregate=u.aggregate, direction=u.direction, rows="parameter sets",
                              y_label="parameters")


def universe_sections(summary: ExperimentSummary) -> list[Section]:
    u = summary.universe
    if u is None:
        return []
    symbols = [i.symbol for i in u.instruments]
    rows = [RankedRow([r.rank, params_text(r.params)], r.aggregate, r.mean, r.share_positive, r.instruments)
            for r in u.ranking]
    note = (f'<p class="note">{u.ranked} of {u.parameter_sets} parameter sets ranked by the {esc(u.aggregate)} of '
            f"their in-sample {esc(u.metric)} over {len(symbols)} instruments ({u.undefined_aggregate} undefined: "
            "a broken constraint or no objective on an instrument). Per-instrument leaderboards: the "
            "Leaderboard section, one window per instrument.</p>")
    ranking = ranking_table(["rank", "parameters"], [True, False], rows, symbols, metric=u.metric,
                            aggregate=u.aggregate, table_id="universe-ranking")
    return [Section("universe", "Universe: aggregate ranking", note + ranking),
            Section("universe-heatmap", "Universe: parameters × instruments", _heatmap(u))]
