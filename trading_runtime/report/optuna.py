"""The report of an Optuna study, from ``optimize finalize``'s result documents (no optuna import here).

Results URI: ``<store>/optimize/<study_id>`` (or its ``results/`` folder, which finalize prints).
Read: ``best_parameters.json``, ``performance_metrics.json`` (the best trial re-evaluated, with
PSR/DSR), ``optimization_history.json``, ``param_importances.json``, ``metadata.json`` and, for
several objectives, ``pareto_front.json``. The best trial's equity comes from the generation
experiment that evaluated it (``<study>.gNNNN``) when its shard kept the series (the shard's top-K
per window), or from ``<study>.best`` when that experiment is stored.

Sections: summary, provenance, leaderboard (best and top trials), significance (raw best Sharpe
next to its probabilistic and deflated Sharpe), equity (the best trial, stitched out-of-sample),
history (every trial's value and the best so far), importances, parameters (parallel coordinates
and the first two parameters coloured by the objective), and the Pareto front when there are
several objectives.
"""

from __future__ import annotations

import math
from typing import Any

from trading_runtime.config.backtest import timeframe_bars_per_year
from trading_runtime.execution.outputs import iso_utc
from trading_runtime.report.backtest import provenance_rows
from trading_runtime.report.charts import chained, drawdown_chart, equity_chart
from trading_runtime.report.html import Section, code, esc, fmt, kv_table, metric_formatter, page, table, tiles
from trading_runtime.report.results import EquityCurve, StudyResults
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

TOP_TRIALS = 10


# ------------------------------------------------------------------------------------------------ sections

def _objective_name(o: dict[str, Any]) -> str:
    return f"{o['metric']} ({'max' if o['direction'] == 'maximize' else 'min'})"


def _params_text(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((params or {}).items())) or "–"


def _space_text(space: dict[str, Any]) -> str:
    parts = []
    for name, p in sorted(space.items()):
        if p.get("type") == "categorical":
            parts.append(f"{name} ∈ {p.get('choices')}")
        else:
            extra = " log" if p.get("log") else ""
            step = f" step {p['step']}" if p.get("step") not in (None, 1) else ""
            parts.append(f"{name} {p.get('type')} [{p.get('low')}, {p.get('high')}]{step}{extra}")
    return "; ".join(parts)


def _summary(res: StudyResults) -> Section:
    md = res.metadata
    best = res.docs["best_parameters.json"]
    perf = res.docs["performance_metrics.json"]
    counts = md.get("counts") or {}
    items: list[tuple[str, Any, str]] = [("trials complete", f"{counts.get('complete', 0)} / {counts.get('trials', 0)}",
                                          "")]
    for o, v in zip(res.objectives, best.get("values") or [], strict=False):
        items.append((f"best in-sample {o['metric']}", v, "objective"))
    oos = (perf.get("out_of_sample") or {}).get("mean") or {}
    if oos:
        items.append(("its out-of-sample return", oos.get("total_return"), "total_return"))
        items.append(("its out-of-sample sharpe", oos.get("sharpe"), "sharpe"))
    data = md["data"]
    sampler = md.get("sampler") or {}
    facts = [
        ("study", md["study_id"]),
        ("strategy", md["strategy"]),
        ("data", f"sha256 {data['sha256'][:12]} · {fmt(data['n_bars'], 'n_bars')} bars of {data['timeframe']}"),
        ("period", f"{iso_utc(data['first_ts'])} → {iso_utc(data['last_ts'])}"),
        ("search space", _space_text(md.get("space") or {})),
        ("sampler", f"{sampler.get('name')} (seed {sampler.get('seed')})"),
        ("trials", f"{md.get('n_trials')} in batches of {md.get('batch_size')}"
                   + (f" ({md['generations']} generations, mode {md.get('mode')})" if md.get("generations") else
                      f" (mode {md.get('mode')})")),
        ("objectives", ", ".join(_objective_name(o) for o in res.objectives) + " — in-sample, mean over windows"),
        ("constraints", ", ".join(f"{k} {v}" for k, v in sorted((md.get("constraints") or {}).items())
                                  if v is not None) or "none"),
        ("validation", ", ".join(f"{k} {v}" for k, v in sorted((md.get("validation") or {}).items())
                                 if v is not None)),
        ("windows", str(len(md.get("folds") or []))),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))),
    ]
    body = tiles(items) + kv_table(facts, "summary-facts")
    return Section("summary", "Summary", body)


def _provenance(res: StudyResults) -> Section:
    md = res.metadata
    rows: list[tuple[str, Any]] = provenance_rows(md.get("provenance"))
    rows += [("study id", md["study_id"]), ("config sha256", md.get("config_sha256")),
             ("data sha256", md["data"]["sha256"])]
    return Section("provenance", "Provenance", kv_table(rows, "provenance-table"))


def _complete(res: StudyResults) -> list[dict[str, Any]]:
    return [t for t in res.trials if t["state"] == "COMPLETE" and t.get("values")]


def _ranked(res: StudyResults) -> list[dict[str, Any]]:
    o = res.objectives[0]
    sign = -1.0 if o["direction"] == "maximize" else 1.0
    return sorted(_complete(res), key=lambda t: (sign * float(t["values"][0]), t["number"]))


def _leaderboard(res: StudyResults) -> Section:
    best = res.docs["best_parameters.json"]
    names = sorted((res.metadata.get("space") or {}).keys())
    headers = ["rank", "trial", "generation", *names, *(_objective_name(o) for o in res.objectives),
               "in-sample sharpe"]
    rows, classes = [], []
    for i, t in enumerate(_ranked(res)[:TOP_TRIALS]):
        rows.append([i + 1, t["number"], t.get("generation"), *(t["params"].get(n) for n in names),
                     *(fmt(v) for v in t["values"]), fmt(t.get("in_sample_sharpe"))])
        classes.append("best" if t["number"] == best.get("trial") else "")
    tbl = table(headers, rows, numeric=[True] * len(headers), row_classes=classes, table_id="leaderboard-trials")
    note = (f'<p class="note">Selected: trial {esc(best.get("trial"))} ({esc(_params_text(best.get("params")))}). '
            f"{esc(best.get('selection', ''))}. Top {TOP_TRIALS} complete trials by the first objective.</p>")
    return Section("leaderboard", "Leaderboard", note + tbl)


def _significance(res: StudyResults) -> Section:
    perf = res.docs["performance_metrics.json"]
    st = perf.get("selection_statistics") or {}
    bpy = timeframe_bars_per_year(res.metadata["data"]["timeframe"])
    ann = math.sqrt(bpy)

    def annual(v: Any) -> Any:
        return None if v is None else float(v) * ann

    rows = [
        ("raw Sharpe of the best (annualised)", fmt(annual(st.get("sharpe_per_bar")))),
        ("probabilistic Sharpe P(SR > 0)", fmt(st.get("probabilistic_sharpe_ratio"))),
        ("deflated Sharpe ratio", fmt(st.get("deflated_sharpe_ratio"))),
        ("trials tried (N)", st.get("n_trials")),
        ("trials with a Sharpe", st.get("n_trials_with_sharpe")),
        ("expected max Sharpe of N skill-less trials (annualised)", fmt(annual(st.get("expected_max_sharpe")))),
        ("variance of the trials' per-bar Sharpe", fmt(st.get("sharpe_variance_across_trials"))),
        ("returns (bars, windows pooled)", fmt(st.get("n_returns"), "n_bars")),
        ("skew / kurtosis", f"{fmt(st.get('skewness'))} / {fmt(st.get('kurtosis'))}"),
    ]
    parts = [tiles([("raw best sharpe", annual(st.get("sharpe_per_bar")), "sharpe"),
                    ("PSR", st.get("probabilistic_sharpe_ratio"), ""),
                    ("deflated sharpe", st.get("deflated_sharpe_ratio"), "")]),
             kv_table(rows, "significance-table")]
    for seg, title in (("in_sample", "In-sample (selected on)"), ("out_of_sample", "Out-of-sample (reported only)")):
        block = perf.get(seg)
        if not block:
            continue
        metrics = ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate")
        trows = [[f["fold"], *(fmt(f["metrics"].get(m), m) for m in metrics)] for f in block.get("folds", [])]
        trows.append(["mean", *(fmt((block.get("mean") or {}).get(m), m) for m in metrics)])
        parts.append(f"<h3>{esc(title)}</h3>" + table(("window", *metrics), trows,
                                                      numeric=(False, *([True] * len(metrics)))))
    parts.append('<p class="note">PSR: probability that the best trial\'s true in-sample Sharpe is above zero. '
                 "Deflated Sharpe: the same against the Sharpe the best of N skill-less trials would reach. "
                 "A raw Sharpe far above its deflated counterpart is selection, not skill.</p>")
    return Section("significance", "Significance of the best", "".join(parts))


def _equity(res: StudyResults) -> Section:
    md = res.metadata
    folds = md.get("folds") or []
    best = res.docs["best_parameters.json"]
    label = f"trial {best.get('trial')}"
    charts: list[str] = []
    oos = [res.curves.get((f["id"], "out_of_sample")) for f in folds]
    if folds and all(c is not None and len(c.equity) for c in oos):
        pieces: list[EquityCurve] = [c for c in oos if c is not None]
        stitched = pieces[0]
        for c in pieces[1:]:
            stitched = chained(stitched, c)
        markers = [Marker(f["out_of_sample"]["start_ts"] / 1e9, f["id"]) for f in folds]
        title = f"Out-of-sample equity of the best ({label}{', windows chained' if len(folds) > 1 else ''})"
        charts.append(equity_chart([(label, stitched)], title=title, markers=markers))
        charts.append(drawdown_chart(label, stitched, title="Its drawdown", markers=markers))
    ins = [(f["id"], res.curves.get((f["id"], "in_sample"))) for f in folds]
    lines = [Series(f"{fid} in-sample", c.seconds, c.equity / c.initial - 1.0, width=1.3)
             for fid, c in ins if c is not None and len(c.equity)]
    if lines:
        charts.append(xy_chart(lines, title=f"In-sample return of the best ({label}) in each window", x_time=True,
                               y_label="return", y_format=metric_formatter("total_return"), zero_line=True))
    if not charts:
        charts.append('<p class="note">The best trial\'s equity was not kept by its shard (only each shard\'s top '
                      "runs per window are); its metrics are in the significance section.</p>")
    return Section("equity", "Equity and drawdown", f'<div class="charts">{"".join(charts)}</div>')


def _history(res: StudyResults) -> Section:
    trials = res.trials
    charts = []
    n_failed = sum(1 for t in trials if t["state"] == "FAIL")
    for i, o in enumerate(res.objectives):
        pts = [(t["number"], t["values"][i]) for t in _complete(res)]
        gens = [t.get("generation") or 0 for t in _complete(res)]
        colors = [PALETTE[g % len(PALETTE)] for g in gens]
        series = [Series("trial", [p[0] for p in pts], [p[1] for p in pts], mode="markers", colors=colors)]
        if len(res.objectives) == 1:
            so_far = [(t["number"], t["best_value_so_far"]) for t in trials
                      if t.get("best_value_so_far") is not None]
            series.append(Series("best so far", [p[0] for p in so_far], [p[1] for p in so_far], color="#d62728",
                                 mode="step", width=2.0))
        charts.append(xy_chart(series, title=f"Optimization history: {_objective_name(o)} by trial "
                                              "(colour: generation)", x_label="trial", y_label=o["metric"],
                               y_format=metric_formatter(o["metric"])))
    note = (f'<p class="note">{len(_complete(res))} complete, {n_failed} failed trials (failed ones have no value: '
            "invalid parameters or broken constraints).</p>")
    return Section("history", "Optimization history", note + "".join(charts))


def _importances(res: StudyResults) -> Section:
    doc = res.docs["param_importances.json"]
    parts = [f'<p class="note">Method: {esc(doc.get("method"))} — {esc(doc.get("method_detail", ""))}.</p>']
    for entry in doc.get("objectives", []):
        imp = entry.get("importances")
        title = f"Parameter importance for {_objective_name(entry)}"
        if imp:
            ranking = entry.get("ranking") or sorted(imp, key=lambda k: (-imp[k], k))
            parts.append(bar_chart(ranking, [float(imp[k]) for k in ranking], title=title,
                                   value_format=lambda v: f"{v:.3f}", width=600))
        else:
            parts.append(f"<p>{esc(title)}: not computed ({esc(entry.get('reason'))}).</p>")
    return Section("importances", "Parameter importances", "".join(parts))


def _parameters(res: StudyResults) -> Section:
    space = res.metadata.get("space") or {}
    names = sorted(space)
    complete = _complete(res)
    o = res.objectives[0]
    maximize = o["direction"] == "maximize"
    axes: list[Axis] = []
    for n in names:
        p = space[n]
        if p.get("type") == "categorical":
            labels = [str(c) for c in p.get("choices") or []]
            axes.append(Axis(n, [float(labels.index(str(t["params"].get(n)))) if str(t["params"].get(n)) in labels
                                 else None for t in complete], labels))
        else:
            axes.append(Axis(n, [_num(t["params"].get(n)) for t in complete]))
    for i, obj in enumerate(res.objectives):
        axes.append(Axis(obj["metric"], [float(t["values"][i]) for t in complete]))
    values = [float(t["values"][0]) for t in complete]
    charts = [parallel_coordinates(axes, values, title=f"Parallel coordinates (colour: {_objective_name(o)}, "
                                                       "bright = better)", higher_is_better=maximize)]
    numeric = [n for n in names if space[n].get("type") != "categorical"]
    if len(numeric) >= 2 and values:
        xa, ya = numeric[0], numeric[1]
        lo, hi = min(values), max(values)
        colors = []
        for v in values:
            t = 0.5 if hi == lo else (v - lo) / (hi - lo)
            colors.append(sequential_color(t if maximize else 1.0 - t))
        pts = Series("trials", [_num(t["params"].get(xa)) or 0.0 for t in complete],
                     [_num(t["params"].get(ya)) for t in complete], mode="markers", colors=colors, radius=4.5)
        best = res.docs["best_parameters.json"].get("params") or {}
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
    doc = res.docs.get("pareto_front.json")
    if doc is None or len(res.objectives) < 2:
        return None
    o0, o1 = res.objectives[0], res.objectives[1]
    front = {t["number"] for t in doc.get("trials", [])}
    others = [t for t in _complete(res) if t["number"] not in front]
    on = sorted((t for t in _complete(res) if t["number"] in front), key=lambda t: float(t["values"][0]))
    series = [Series("dominated", [t["values"][0] for t in others], [t["values"][1] for t in others],
                     mode="markers", color="#9aa5b1"),
              Series("Pareto front", [t["values"][0] for t in on], [t["values"][1] for t in on], mode="markers",
                     color="#d62728", radius=5.0),
              Series("front", [t["values"][0] for t in on], [t["values"][1] for t in on], mode="step",
                     color="#d62728", width=1.0)]
    chart = xy_chart(series, title=f"Pareto front: {_objective_name(o0)} vs {_objective_name(o1)}",
                     x_label=o0["metric"], y_label=o1["metric"], box=Box(width=700, height=440))
    rows = [[code(t["number"]), _params_text(t["params"]), *(fmt(v) for v in t["values"])]
            for t in sorted(doc.get("trials", []), key=lambda t: t["number"])]
    tbl = table(("trial", "params", *(_objective_name(o) for o in res.objectives)), rows,
                numeric=(False, False, *([True] * len(res.objectives))), table_id="pareto-table")
    return Section("pareto", "Pareto front", chart + tbl)


def render_study_report(res: StudyResults) -> str:
    md = res.metadata
    sections = [_summary(res), _provenance(res), _leaderboard(res), _significance(res), _equity(res),
                _history(res), _importances(res), _parameters(res)]
    pareto = _pareto(res)
    if pareto is not None:
        sections.append(pareto)
    subtitle = f"{md['strategy']} · data {md['data']['sha256'][:12]} · Optuna {(md.get('sampler') or {}).get('name')}"
    return page(f"Optuna study {res.study_id}", subtitle, sections)
