"""The report of an Optuna study, from ``optimize finalize``'s result documents (no optuna import here).

Results URI: ``<store>/optimize/<study_id>`` (or its ``results/`` folder, which finalize prints).
Read: ``best_parameters.json``, ``performance_metrics.json`` (the best trial re-evaluated, with
PSR/DSR), ``optimization_history.json``, ``param_importances.json``, ``metadata.json`` and, for
several objectives, ``pareto_front.json``. The best trial's equity comes from ``<study>.best``, the
experiment that re-evaluated it at finalize (its derived curves, ``curves.json`` + ``curves.f64``).

Sections: summary, provenance, leaderboard (best and top trials), significance (raw best Sharpe
next to its probabilistic and deflated Sharpe), equity (the best trial, stitched out-of-sample),
history (every trial's value and the best so far), importances, parameters (parallel coordinates
and the first two parameters coloured by the objective), and the Pareto front when there are
several objectives. A universe study adds, by the first objective: the aggregate ranking of the
trials (each instrument's value next to the aggregate the sampler was told), the trials ×
instruments heat map (the best by the aggregate first) and a leaderboard per instrument (the top
trials by their value on that instrument).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pydantic import BaseModel

from trading_runtime.config.experiment import CategoricalParam, FloatParam, IntParam, ObjectiveConfig, ObjectiveSpec
from trading_runtime.execution.outputs import iso_utc
from trading_runtime.report.backtest import data_fact, provenance_rows
from trading_runtime.report.charts import chained, drawdown_chart, equity_chart
from trading_runtime.report.html import Section, code, esc, fmt, kv_table, metric_formatter, page, table, tiles
from trading_runtime.report.results import EquityCurve, StudyResults
from trading_runtime.report.study_documents import ObjectiveImportance, TrialRow
from trading_runtime.report.svg import (
    PALETTE,
    Axis,
    Box,
    Marker,
    Series,
    bar_chart,
    parallel_coordinates,
    sequential_color,
    xy_chart,
)
from trading_runtime.report.universe import RankedRow, instrument_heatmap, params_text, ranking_table

TOP_TRIALS = 10
TOP_PER_INSTRUMENT = 5


# ------------------------------------------------------------------------------------------------ sections

def _objective_name(o: ObjectiveSpec | ObjectiveImportance) -> str:
    return f"{o.metric} ({'max' if o.direction == 'maximize' else 'min'})"


def _params_text(params: dict[str, Any] | None) -> str:
    return params_text(params or {}) or "–"


def _space_text(space: dict[str, IntParam | FloatParam | CategoricalParam]) -> str:
    parts = []
    for name, p in sorted(space.items()):
        if isinstance(p, CategoricalParam):
            parts.append(f"{name} ∈ {p.choices}")
        else:
            extra = " log" if p.log else ""
            step = f" step {p.step}" if p.step not in (None, 1) else ""
            parts.append(f"{name} {p.type} [{p.low}, {p.high}]{step}{extra}")
    return "; ".join(parts)


def _set_items(model: BaseModel) -> str:
    """``name value`` of every field that is set (not null), by name."""
    return ", ".join(f"{k} {v}" for k, v in sorted(model.model_dump(mode="json").items()) if v is not None)


def _summary(res: StudyResults) -> Section:
    md = res.metadata
    counts = md.counts
    items: list[tuple[str, Any, str]] = [("trials complete", f"{counts.complete} / {counts.trials}", "")]
    for o, v in zip(res.objectives, res.best.values or [], strict=False):
        items.append((f"best in-sample {o.metric}", v, "objective"))
    oos = res.performance.out_of_sample
    if oos is not None and oos.mean:
        items.append(("its out-of-sample return", oos.mean.get("total_return"), "total_return"))
        items.append(("its out-of-sample sharpe", oos.mean.get("sharpe"), "sharpe"))
    data = md.data
    facts = [
        ("study", md.study_id),
        ("strategy", md.strategy),
        ("data", data_fact(f"sha256 {data.sha256[:12]}", data)),
        ("period", f"{iso_utc(data.first_ts)} → {iso_utc(data.last_ts)}"),
        ("search space", _space_text(md.space)),
        ("sampler", f"{md.sampler.name} (seed {md.sampler.seed})"),
        ("trials", f"{md.n_trials} in batches of {md.batch_size}"
                   + (f" ({md.generations} generations, mode {md.mode})" if md.generations else f" (mode {md.mode})")),
        ("objectives", ", ".join(_objective_name(o) for o in res.objectives) + " — in-sample, mean over windows"),
        ("constraints", _set_items(md.constraints) or "none"),
        ("validation", _set_items(md.validation)),
        ("windows", str(len(md.folds))),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(counts.model_dump().items()))),
    ]
    body = tiles(items) + kv_table(facts, "summary-facts")
    return Section("summary", "Summary", body)


def _provenance(res: StudyResults) -> Section:
    md = res.metadata
    rows: list[tuple[str, Any]] = provenance_rows(md.provenance)
    # metadata.json has no config_sha256 (it records study_sha256): the row has always been empty, and
    # filling it would change the report's bytes.
    rows += [("study id", md.study_id), ("config sha256", None), ("data sha256", md.data.sha256)]
    return Section("provenance", "Provenance", kv_table(rows, "provenance-table"))


def _complete(res: StudyResults) -> list[TrialRow]:
    return [t for t in res.trials if t.complete]


def _ranked(res: StudyResults) -> list[TrialRow]:
    o = res.objectives[0]
    sign = -1.0 if o.direction == "maximize" else 1.0
    return sorted(_complete(res), key=lambda t: (sign * float(t.objective_values[0]), t.number))


def _leaderboard(res: StudyResults) -> Section:
    best = res.best
    names = sorted(res.metadata.space)
    headers = ["rank", "trial", "generation", *names, *(_objective_name(o) for o in res.objectives),
               "in-sample sharpe"]
    rows, classes = [], []
    for i, t in enumerate(_ranked(res)[:TOP_TRIALS]):
        rows.append([i + 1, t.number, t.generation, *(t.params.get(n) for n in names),
                     *(fmt(v) for v in t.objective_values), fmt(t.in_sample_sharpe)])
        classes.append("best" if t.number == best.trial else "")
    tbl = table(headers, rows, numeric=[True] * len(headers), row_classes=classes, table_id="leaderboard-trials")
    note = (f'<p class="note">Selected: trial {esc(best.trial)} ({esc(_params_text(best.params))}). '
            f"{esc(best.selection)}. Top {TOP_TRIALS} complete trials by the first objective.</p>")
    return Section("leaderboard", "Leaderboard", note + tbl)


def _significance(res: StudyResults) -> Section:
    perf = res.performance
    st = perf.selection_statistics
    ann = math.sqrt(res.metadata.data.annualisation)

    def annual(v: float | None) -> float | None:
        return None if v is None else float(v) * ann

    sharpe = annual(st.sharpe_per_bar) if st else None
    psr = st.probabilistic_sharpe_ratio if st else None
    dsr = st.deflated_sharpe_ratio if st else None
    rows = [
        ("raw Sharpe of the best (annualised)", fmt(sharpe)),
        ("probabilistic Sharpe P(SR > 0)", fmt(psr)),
        ("deflated Sharpe ratio", fmt(dsr)),
        ("trials tried (N)", st.n_trials if st else None),
        ("trials with a Sharpe", st.n_trials_with_sharpe if st else None),
        ("expected max Sharpe of N skill-less trials (annualised)",
         fmt(annual(st.expected_max_sharpe) if st else None)),
        ("variance of the trials' per-bar Sharpe", fmt(st.sharpe_variance_across_trials if st else None)),
        ("returns (bars, windows pooled)", fmt(st.n_returns if st else None, "n_bars")),
        ("skew / kurtosis", f"{fmt(st.skewness if st else None)} / {fmt(st.kurtosis if st else None)}"),
    ]
    parts = [tiles([("raw best sharpe", sharpe, "sharpe"), ("PSR", psr, ""), ("deflated sharpe", dsr, "")]),
             kv_table(rows, "significance-table")]
    for block, title in ((perf.in_sample, "In-sample (selected on)"),
                         (perf.out_of_sample, "Out-of-sample (reported only)")):
        if block is None:
            continue
        metrics = ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate")
        trows = [[f.fold, *(fmt(f.metrics.get(m), m) for m in metrics)] for f in block.folds]
        trows.append(["mean", *(fmt(block.mean.get(m), m) for m in metrics)])
        parts.append(f"<h3>{esc(title)}</h3>" + table(("window", *metrics), trows,
                                                      numeric=(False, *([True] * len(metrics)))))
    parts.append('<p class="note">PSR: probability that the best trial\'s true in-sample Sharpe is above zero. '
                 "Deflated Sharpe: the same against the Sharpe the best of N skill-less trials would reach. "
                 "A raw Sharpe far above its deflated counterpart is selection, not skill.</p>")
    return Section("significance", "Significance of the best", "".join(parts))


def _equity(res: StudyResults) -> Section:
    folds = res.metadata.folds
    label = f"trial {res.best.trial}"
    charts: list[str] = []
    oos = [res.curves.get((f.id, "out_of_sample")) for f in folds]
    if folds and all(c is not None and len(c.equity) for c in oos):
        pieces: list[EquityCurve] = [c for c in oos if c is not None]
        stitched = pieces[0]
        for c in pieces[1:]:
            stitched = chained(stitched, c)
        markers = [Marker(f.out_of_sample.start_ts / 1e9, f.id) for f in folds if f.out_of_sample is not None]
        title = f"Out-of-sample equity of the best ({label}{', windows chained' if len(folds) > 1 else ''})"
        charts.append(equity_chart([(label, stitched)], title=title, markers=markers))
        charts.append(drawdown_chart(label, stitched, title="Its drawdown", markers=markers))
    ins = [(f.id, res.curves.get((f.id, "in_sample"))) for f in folds]
    lines = [Series(f"{fid} in-sample", c.seconds, c.equity / c.initial - 1.0, width=1.3)
             for fid, c in ins if c is not None and len(c.equity)]
    if lines:
        charts.append(xy_chart(lines, title=f"In-sample return of the best ({label}) in each window", x_time=True,
                               y_label="return", y_format=metric_formatter("total_return"), zero_line=True))
    if not charts:
        charts.append('<p class="note">No equity of the best trial is stored (the study was finalized before its '
                      "curves were derived at finalize); its metrics are in the significance section.</p>")
    return Section("equity", "Equity and drawdown", f'<div class="charts">{"".join(charts)}</div>')


def _history(res: StudyResults) -> Section:
    trials = res.trials
    complete = _complete(res)
    charts = []
    n_failed = sum(1 for t in trials if t.state == "FAIL")
    for i, o in enumerate(res.objectives):
        pts = [(t.number, t.objective_values[i]) for t in complete]
        colors = [PALETTE[(t.generation or 0) % len(PALETTE)] for t in complete]
        series = [Series("trial", [p[0] for p in pts], [p[1] for p in pts], mode="markers", colors=colors)]
        if len(res.objectives) == 1:
            so_far = [(t.number, t.best_value_so_far) for t in trials if t.best_value_so_far is not None]
            series.append(Series("best so far", [p[0] for p in so_far], [p[1] for p in so_far], color="#d62728",
                                 mode="step", width=2.0))
        charts.append(xy_chart(series, title=f"Optimization history: {_objective_name(o)} by trial "
                                              "(colour: generation)", x_label="trial", y_label=o.metric,
                               y_format=metric_formatter(o.metric)))
    note = (f'<p class="note">{len(complete)} complete, {n_failed} failed trials (failed ones have no value: '
            "invalid parameters or broken constraints).</p>")
    return Section("history", "Optimization history", note + "".join(charts))


def _importances(res: StudyResults) -> Section:
    doc = res.importances
    parts = [f'<p class="note">Method: {esc(doc.method)} — {esc(doc.method_detail)}.</p>']
    for entry in doc.objectives:
        imp = entry.importances
        title = f"Parameter importance for {_objective_name(entry)}"
        if imp:
            ranking = entry.ranking or sorted(imp, key=lambda k: (-imp[k], k))
            parts.append(bar_chart(ranking, [float(imp[k]) for k in ranking], title=title,
                                   value_format=lambda v: f"{v:.3f}", width=600))
        else:
            parts.append(f"<p>{esc(title)}: not computed ({esc(entry.reason)}).</p>")
    return Section("importances", "Parameter importances", "".join(parts))


def _parameters(res: StudyResults) -> Section:
    space = res.metadata.space
    names = sorted(space)
    complete = _complete(res)
    o = res.objectives[0]
    maximize = o.direction == "maximize"
    axes: list[Axis] = []
    for n in names:
        p = space[n]
        if isinstance(p, CategoricalParam):
            labels = [str(c) for c in p.choices]
            axes.append(Axis(n, [float(labels.index(str(t.params.get(n)))) if str(t.params.get(n)) in labels
                                 else None for t in complete], labels))
        else:
            axes.append(Axis(n, [_num(t.params.get(n)) for t in complete]))
    for i, obj in enumerate(res.objectives):
        axes.append(Axis(obj.metric, [float(t.objective_values[i]) for t in complete]))
    values = [float(t.objective_values[0]) for t in complete]
    charts = [parallel_coordinates(axes, values, title=f"Parallel coordinates (colour: {_objective_name(o)}, "
                                                       "bright = better)", higher_is_better=maximize)]
    numeric = [n for n in names if not isinstance(space[n], CategoricalParam)]
    if len(numeric) >= 2 and values:
        xa, ya = numeric[0], numeric[1]
        lo, hi = min(values), max(values)
        colors = []
        for v in values:
            t = 0.5 if hi == lo else (v - lo) / (hi - lo)
            colors.append(sequential_color(t if maximize else 1.0 - t))
        pts = Series("trials", [_num(t.params.get(xa)) or 0.0 for t in complete],
                     [_num(t.params.get(ya)) for t in complete], mode="markers", colors=colors, radius=4.5)
        best = res.best.params or {}
        mark = Series("best", [_num(best.get(xa)) or 0.0], [_num(best.get(ya))], mode="markers", color="#e4002b",
                      radius=7.0)
        charts.append(xy_chart([pts, mark], title=f"{ya} against {xa} (colour: {_objective_name(o)})", x_label=xa,
                               y_label=ya, box=Box(width=620, height=420)))
    return Section("parameters", "Parameters", f'<div class="charts">{"".join(charts)}</div>')


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pareto(res: StudyResults) -> Section | None:
    doc = res.pareto
    if doc is None or len(res.objectives) < 2:
        return None
    o0, o1 = res.objectives[0], res.objectives[1]
    front = {t.number for t in doc.trials}
    others = [t for t in _complete(res) if t.number not in front]
    on = sorted((t for t in _complete(res) if t.number in front), key=lambda t: float(t.objective_values[0]))
    series = [Series("dominated", [t.objective_values[0] for t in others], [t.objective_values[1] for t in others],
                     mode="markers", color="#9aa5b1"),
              Series("Pareto front", [t.objective_values[0] for t in on], [t.objective_values[1] for t in on],
                     mode="markers", color="#d62728", radius=5.0),
              Series("front", [t.objective_values[0] for t in on], [t.objective_values[1] for t in on], mode="step",
                     color="#d62728", width=1.0)]
    chart = xy_chart(series, title=f"Pareto front: {_objective_name(o0)} vs {_objective_name(o1)}",
                     x_label=o0.metric, y_label=o1.metric, box=Box(width=700, height=440))
    rows = [[code(t.number), _params_text(t.params), *(fmt(v) for v in t.values)]
            for t in sorted(doc.trials, key=lambda t: t.number)]
    tbl = table(("trial", "params", *(_objective_name(o) for o in res.objectives)), rows,
                numeric=(False, False, *([True] * len(res.objectives))), table_id="pareto-table")
    return Section("pareto", "Pareto front", chart + tbl)


def _instrument_value(t: TrialRow, symbol: str) -> float | None:
    """The trial's first objective on one instrument of a universe (None: undefined there)."""
    values = (t.instruments or {}).get(symbol)
    return None if not values else float(values[0])


def _universe(res: StudyResults) -> list[Section]:
    """A universe study's sections (none for one instrument), by the first objective."""
    history = res.history
    symbols = history.symbols
    if not symbols or history.aggregate is None:
        return []
    o = res.objectives[0]
    aggregate = history.aggregate
    ranked = _ranked(res)
    share = ObjectiveConfig(metric=o.metric, direction=o.direction, aggregate="share_positive")
    rows = []
    for i, t in enumerate(ranked):
        per = {s: _instrument_value(t, s) for s in symbols}
        defined = [v for v in per.values() if v is not None]
        rows.append(RankedRow([i + 1, t.number, params_text(t.params)], float(t.objective_values[0]),
                              statistics.fmean(defined) if defined else None, share.aggregated(list(per.values())),
                              per))
    note = (f'<p class="note">{len(ranked)} complete trials ranked by the {esc(aggregate)} of their in-sample '
            f"{esc(o.metric)} over {len(symbols)} instruments (the value the sampler was told); a failed trial has "
            "no aggregate.</p>")
    ranking = ranking_table(["rank", "trial", "parameters"], [True, True, False], rows, symbols, metric=o.metric,
                            aggregate=aggregate, table_id="universe-ranking")
    numbers = {t.number for t in ranked}
    unranked = [t for t in res.trials if t.number not in numbers and t.instruments
                and any(_instrument_value(t, s) is not None for s in symbols)]
    shown = ranked + unranked
    chart = instrument_heatmap(symbols, [str(t.number) for t in shown],
                               [[_instrument_value(t, s) for s in symbols] for t in shown], metric=o.metric,
                               aggregate=aggregate, direction=o.direction, rows="trials", y_label="trial")
    sign = -1.0 if o.direction == "maximize" else 1.0
    boards = []
    for s in symbols:
        valued = [(v, t) for t in res.trials if (v := _instrument_value(t, s)) is not None]
        top = sorted(valued, key=lambda p: (sign * p[0], p[1].number))[:TOP_PER_INSTRUMENT]
        cells = [[i + 1, t.number, params_text(t.params), fmt(v, o.metric),
                  fmt(t.objective_values[0] if t.complete else None, o.metric)] for i, (v, t) in enumerate(top)]
        boards.append(f"<h3>{esc(s)}</h3>" + table(
            ["rank", "trial", "parameters", f"{o.metric} on {s}", f"{aggregate} of {o.metric}"], cells,
            numeric=[True, True, False, True, True], row_classes=["best"] if cells else None,
            table_id=f"universe-leaderboard-{s}"))
    board_note = (f'<p class="note">Top {TOP_PER_INSTRUMENT} trials by their in-sample {esc(o.metric)} on each '
                  "instrument (ties to the lowest trial number), next to their aggregate.</p>")
    return [Section("universe", "Universe: aggregate ranking", note + ranking),
            Section("universe-heatmap", "Universe: trials × instruments", chart),
            Section("universe-leaderboards", "Universe: per-instrument leaderboards", board_note + "".join(boards))]


def render_study_report(res: StudyResults) -> str:
    md = res.metadata
    sections = [_summary(res), _provenance(res), _leaderboard(res), *_universe(res), _significance(res),
                _equity(res), _history(res), _importances(res), _parameters(res)]
    pareto = _pareto(res)
    if pareto is not None:
        sections.append(pareto)
    subtitle = f"{md.strategy} · data {md.data.sha256[:12]} · Optuna {md.sampler.name}"
    return page(f"Optuna study {res.study_id}", subtitle, sections)
