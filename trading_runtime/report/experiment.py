"""The report of a finalized experiment (a grid or Optuna search over one or more validation windows).

Sections: summary (counts, windows, headline), provenance, leaderboard per window, significance
(the best run's raw Sharpe next to its probabilistic and deflated Sharpe), equity and drawdown of
the best runs (the stitched out-of-sample equity for walk-forward), and parameters (a heatmap of
the objective over a two-parameter grid; with more parameters, the best over the others; with one,
a line). Out-of-sample figures are shown, never used to pick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from trading_runtime.config.experiment import ObjectiveConfig, Validation
from trading_runtime.execution.outputs import iso_utc
from trading_runtime.fanin.documents import Metrics, WindowSpan
from trading_runtime.golden.canonical import canonical_json
from trading_runtime.report.backtest import data_fact, provenance_rows
from trading_runtime.report.charts import Seconds, chained, drawdown_chart, equity_chart
from trading_runtime.report.html import Section, code, esc, fmt, kv_table, metric_formatter, page, table, tiles
from trading_runtime.report.results import EquityCurve, ExperimentResults
from trading_runtime.report.selection import SelectionStats, selection_stats
from trading_runtime.report.svg import Marker, Series, heatmap, xy_chart
from trading_runtime.report.universe import universe_sections

BOARD_METRICS = ("total_return", "sharpe", "max_drawdown", "n_trades")
SectionHook = Callable[[ExperimentResults], list[Section]]


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _window_text(seg: WindowSpan | None) -> str:
    if seg is None:
        return "–"
    return f"{iso_utc(seg.start_ts)} → {iso_utc(seg.stop_ts)} ({fmt(seg.n_bars, 'n_bars')} bars)"


def _validation_text(v: Validation) -> str:
    fields = v.model_dump(mode="json")
    rest = ", ".join(f"{k} {val}" for k, val in sorted(fields.items()) if k != "kind" and val is not None)
    return f"{v.kind}" + (f" ({rest})" if rest else "")


def _objective_text(o: ObjectiveConfig) -> str:
    constraints = o.constraints.model_dump(mode="json")
    cons = ", ".join(f"{k} {v}" for k, v in sorted(constraints.items()) if v is not None)
    return f"{o.direction} in-sample {o.metric}" + (f"; constraints: {cons}" if cons else "")


def _metric(metrics: Metrics | None, name: str) -> float | int | None:
    """One metric of a run's in- or out-of-sample metrics; None when the window or the value is absent."""
    return None if metrics is None else metrics.get(name)


def headline_metrics(res: ExperimentResults) -> dict[str, float]:
    """Numeric headline figures (for tiles and tracking): best objective, holdout/OOS, stitched, counts."""
    s = res.summary
    out: dict[str, float] = {}
    for k, v in s.runs.items():
        out[f"runs_{k}"] = float(v)
    metric = s.objective.metric
    folds = s.folds
    best = folds[0].best if folds else None
    if best is not None:
        _put(out, f"best_in_sample_{metric}", best.objective)
        for key in BOARD_METRICS:
            _put(out, f"best_in_sample_{key}", _metric(best.in_sample, key))
            if len(folds) == 1:
                _put(out, f"best_out_of_sample_{key}", _metric(best.out_of_sample, key))
    rows = selection_rows(res)
    if len(rows) == 1:
        _put(out, "best_psr", rows[0].psr)
        _put(out, "best_deflated_sharpe", rows[0].dsr)
    wf = s.walk_forward
    if wf is not None:
        for key, value in sorted((wf.stitched_out_of_sample or {}).items()):
            _put(out, f"stitched_oos_{key}", value)
        _put(out, "walk_forward_efficiency", wf.walk_forward_efficiency)
    return out


def _put(out: dict[str, float], key: str, value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value)):
        out[key] = float(value)


def _summary(res: ExperimentResults) -> Section:
    s = res.summary
    data = s.data
    grid = s.grid
    metric = s.objective.metric
    items: list[tuple[str, Any, str]] = [("runs completed", f"{s.runs['completed']:,} / {s.runs['expected']:,}",
                                          "")]
    folds = s.folds
    best = folds[0].best if folds else None
    if s.validation.kind == "walk_forward":
        wf = s.walk_forward
        st = (wf.stitched_out_of_sample if wf is not None else None) or {}
        items += [("stitched OOS return", st.get("total_return"), "total_return"),
                  ("stitched OOS sharpe", st.get("sharpe"), "sharpe"),
                  ("stitched OOS max DD", st.get("max_drawdown"), "max_drawdown"),
                  ("WF efficiency", wf.walk_forward_efficiency if wf is not None else None, "objective")]
    elif best is not None:
        items.append((f"best in-sample {metric}", best.objective, "objective"))
        items.append(("best in-sample return", _metric(best.in_sample, "total_return"), "total_return"))
        if best.out_of_sample:
            items.append(("its out-of-sample return", _metric(best.out_of_sample, "total_return"), "total_return"))
            items.append(("its out-of-sample sharpe", _metric(best.out_of_sample, "sharpe"), "sharpe"))
    facts: list[tuple[str, Any]] = [
        ("experiment", s.experiment_id),
        ("strategy", s.strategy),
        ("data", data_fact(res.plan.data.path, data)),
        ("period", f"{iso_utc(data.first_ts)} → {iso_utc(data.last_ts)}"),
        ("search", _search_text(res)),
        ("validation", _validation_text(s.validation)),
        ("objective", _objective_text(s.objective)),
        ("warm-up", f"{s.warmup_bars} bars before each window"),
        ("runs", ", ".join(f"{k} {v:,}" for k, v in s.runs.items())),
    ]
    if grid.n_dropped:
        facts.append(("dropped combinations",
                      "; ".join(f"{n} × {why}" for why, n in sorted(grid.dropped_by_rule.items()))))
    rows = []
    for fold in folds:
        top = fold.best
        rows.append([fold.id, _window_text(fold.in_sample), _window_text(fold.out_of_sample),
                     fold.runs, fold.ranked, fold.excluded_by_constraints, fold.undefined_objective,
                     _params_text(top.params) if top else "–",
                     fmt(top.objective) if top else "–",
                     fmt(_metric(top.out_of_sample, metric)) if top else "–"])
    windows = table(("window", "in-sample", "out-of-sample", "runs", "ranked", "excluded", "undefined",
                     "best params", f"in-sample {metric}", f"out-of-sample {metric}"), rows,
                    numeric=(False, False, False, True, True, True, True, False, True, True), table_id="windows")
    body = tiles(items) + kv_table(facts, "summary-facts") + "<h3>Windows</h3>" + windows
    return Section("summary", "Summary", body)


def _search_text(res: ExperimentResults) -> str:
    sweep = res.config.sweep
    grid = res.summary.grid
    if sweep.kind == "grid":
        values = (res.plan.grid.get("values") or {})
        dims = " × ".join(f"{k} ({len(values.get(k, []))})" for k in grid.names)
        return f"grid {dims}: {grid.n_combinations} combinations, {grid.n_valid} valid"
    return f"{sweep.kind} search"


def _provenance(res: ExperimentResults) -> Section:
    s = res.summary
    rows: list[tuple[str, Any]] = provenance_rows(res.provenance)
    rows += [("experiment id", s.experiment_id), ("config sha256", res.plan.config_sha256),
             ("data sha256", s.data.sha256), ("shard split", f"{res.plan.split}: {len(res.plan.shards)} shards"),
             ("seed", res.config.seed)]
    config = ("<details><summary>config (as planned)</summary>"
              f"<pre>{esc(canonical_json(res.plan.config.model_dump(mode='json')))}</pre></details>")
    return Section("provenance", "Provenance", kv_table(rows, "provenance-table") + config)


def _leaderboard(res: ExperimentResults) -> Section:
    s = res.summary
    metric = s.objective.metric
    names = list(s.grid.names)
    parts = []
    for i, fold in enumerate(s.folds):
        board = fold.leaderboard
        has_oos = fold.out_of_sample is not None
        names_here = names or sorted({k for row in board for k in row.params})
        headers = ["rank", "run", *names_here, f"objective ({metric})",
                   *(f"IS {m}" for m in BOARD_METRICS), *((f"OOS {m}" for m in BOARD_METRICS) if has_oos else ())]
        rows = []
        for row in board:
            cells: list[Any] = [row.rank, code(row.run_id), *(row.params.get(n) for n in names_here),
                                fmt(row.objective, metric)]
            cells += [fmt(_metric(row.in_sample, m), m) for m in BOARD_METRICS]
            if has_oos:
                cells += [fmt(_metric(row.out_of_sample, m), m) for m in BOARD_METRICS]
            rows.append(cells)
        numeric = [True, False, *([True] * (len(headers) - 2))]
        tbl = table(headers, rows, numeric=numeric, row_classes=["best"] if rows else None,
                    table_id=f"leaderboard-{fold.id}")
        caption = (f"{fold.ranked} ranked of {fold.runs} runs · {fold.excluded_by_constraints} excluded by "
                   f"constraints · {fold.undefined_objective} with undefined objective")
        if len(s.folds) == 1:
            parts.append(f'<p class="note">{esc(caption)}</p>{tbl}')
        else:
            opened = " open" if i == 0 else ""
            parts.append(f"<details{opened}><summary>{esc(fold.id)}: {esc(caption)}</summary>{tbl}</details>")
    note = (f'<p class="note">Top {res.config.report.top_k} runs per window by the in-sample objective (ties by run '
            "id); out-of-sample columns are reported, never used to rank.</p>")
    return Section("leaderboard", "Leaderboard", note + "".join(parts))


def selection_rows(res: ExperimentResults) -> list[SelectionStats]:
    bpy = res.plan.data.annualisation
    out = []
    for fold in res.summary.folds:
        best = fold.best
        if best is None:
            continue
        curve = res.curve(best.run_id, "in_sample")
        if curve is None:
            continue
        trials = [_metric(rec.in_sample, "sharpe") for rec in res.runs.values()
                  if rec.fold == fold.id and rec.in_sample]
        out.append(selection_stats(fold.id, best.run_id, best.params, curve.equity, curve.initial, trials,
                                   bpy, _metric(best.in_sample, "sharpe"), res.return_moments.get(best.run_id)))
    return out


def _significance(res: ExperimentResults) -> Section:
    rows = []
    for st in selection_rows(res):
        rows.append([st.window, code(st.run_id), _params_text(st.params), fmt(st.sharpe), fmt(st.psr), fmt(st.dsr),
                     st.n_trials, fmt(st.sr0), fmt(st.n_returns, "n_bars"), fmt(st.skew), fmt(st.kurtosis)])
    tbl = table(("window", "best run", "params", "raw sharpe (ann.)", "PSR P(SR>0)", "deflated SR", "trials",
                 "expected max SR of trials (ann.)", "returns", "skew", "kurtosis"), rows,
                numeric=(False, False, False, True, True, True, True, True, True, True, True),
                table_id="significance-table")
    note = ('<p class="note">The winner of a search looks better than it is. PSR is the probability that the best '
            "run's true in-sample Sharpe is above zero given its per-bar returns' length, skew and kurtosis; the "
            "deflated Sharpe asks the same against the Sharpe the best of that many skill-less trials would reach "
            "(from the dispersion of all trials' Sharpe ratios). Values near 1 are convincing; near 0.5 or below, "
            "the winner is indistinguishable from luck (Bailey &amp; López de Prado, 2012, 2014).</p>")
    return Section("significance", "Significance of the best", tbl + note)


def equity_section(res: ExperimentResults) -> Section:
    """The equity and drawdown charts (of the best runs; the stitched out-of-sample equity for walk-forward)."""
    s = res.summary
    charts: list[str] = []
    if s.validation.kind == "walk_forward":
        stitched = {name: c for name, c in res.oos_curves().items() if len(c.equity)}
        curve = stitched.get("")
        markers = [Marker(f.out_of_sample.start_ts / 1e9, f.id) for f in s.folds if f.out_of_sample]
        if curve is not None:
            charts.append(equity_chart([("stitched out-of-sample", curve)],
                                       title="Stitched out-of-sample equity (each window's in-sample winner, chained)",
                                       markers=markers))
            charts.append(drawdown_chart("stitched out-of-sample", curve, title="Drawdown of the stitched equity",
                                         markers=markers))
        elif stitched:  # a universe: each instrument's windows are its own, so no window markers
            charts.append(equity_chart(list(stitched.items()),
                                       title="Stitched out-of-sample equity per instrument (each window's in-sample "
                                             "winner on that instrument, chained)"))
        lines = []
        for f in s.folds:
            if f.best is not None:
                c = res.curve(f.best.run_id, "in_sample")
                if c is not None:
                    lines.append(Series(f"{f.id} winner", c.seconds, c.equity / c.initial - 1.0, width=1.3))
        if lines:
            charts.append(xy_chart(lines, title="In-sample return of each window's winner", x_time=True,
                                   y_label="return", y_format=metric_formatter("total_return"), zero_line=True))
    else:
        board = s.folds[0].leaderboard if s.folds else []
        curves: list[tuple[str, EquityCurve]] = []
        first_oos = s.folds[0].out_of_sample if s.folds else None
        oos_start = first_oos.start_ts if first_oos is not None else None
        for row in board:
            c = res.curve(row.run_id, "in_sample")
            if c is None:
                continue
            o = res.curve(row.run_id, "out_of_sample")
            label = f"#{row.rank} {_params_text(row.params)}"
            curves.append((label, chained(c, o) if o is not None and len(o.equity) else c))
        markers = [Marker(oos_start / 1e9, "out-of-sample →")] if oos_start is not None else []
        title = "Equity of the top runs" + (" (in-sample, then out-of-sample continued)" if markers else "")
        if curves:
            seconds: Seconds = {}  # the best's x, for its drawdown too
            charts.append(equity_chart(curves, title=title, markers=markers, seconds=seconds))
            charts.append(drawdown_chart(curves[0][0], curves[0][1], title=f"Drawdown of the best ({curves[0][0]})",
                                         markers=markers, seconds=seconds))
    if not charts:
        charts.append('<p class="note">No equity kept: no run met the constraints.</p>')
    return Section("equity", "Equity and drawdown", f'<div class="charts">{"".join(charts)}</div>')


def _grid_values(res: ExperimentResults) -> tuple[list[str], dict[str, list[Any]]]:
    grid = res.plan.grid or {}
    names = list(grid.get("names") or [])
    values = {n: list((grid.get("values") or {}).get(n, [])) for n in names}
    return names, values


def _objective_table(res: ExperimentResults, segment: str) -> dict[tuple[tuple[str, Any], ...], list[float]]:
    """Objective of every run by params (over windows), ``segment`` in_sample or out_of_sample."""
    metric = res.config.objective.metric
    out: dict[tuple[tuple[str, Any], ...], list[float]] = {}
    for rec in res.runs.values():
        m: Metrics | None = getattr(rec, segment)
        if not m:
            continue
        v = m.get(metric)
        key = tuple(sorted(rec.params.items()))
        if v is not None and math.isfinite(float(v)):
            out.setdefault(key, []).append(float(v))
    return out


def _parameters(res: ExperimentResults) -> Section | None:
    names, values = _grid_values(res)
    if res.config.sweep.kind != "grid" or not names:
        return None
    metric = res.config.objective.metric
    maximize = res.config.objective.direction == "maximize"
    n_folds = len(res.plan.folds)
    segments = ["in_sample"] + (["out_of_sample"] if any(f.out_of_sample for f in res.plan.folds) else [])
    z_fmt = metric_formatter(metric)
    charts = []
    what = f"mean over {n_folds} windows" if n_folds > 1 else ""
    for seg in segments:
        table_ = _objective_table(res, seg)
        seg_name = seg.replace("_", "-")
        if len(names) == 1:
            xs = values[names[0]]
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs):
                xs_idx = list(range(len(xs)))
            else:
                xs_idx = xs
            ys = []
            for x in xs:
                vals = table_.get(((names[0], x),), [])
                ys.append(sum(vals) / len(vals) if vals else None)
            charts.append(xy_chart([Series(seg_name, xs_idx, ys, mode="line")], title=f"{seg_name} {metric} "
                                   f"by {names[0]}" + (f" ({what})" if what else ""), x_label=names[0],
                                   y_label=metric, y_format=z_fmt))
            continue
        xa, ya = names[0], names[1]
        others = names[2:]
        z: list[list[float | None]] = []
        for yv in reversed(values[ya]):
            row: list[float | None] = []
            for xv in values[xa]:
                best: float | None = None
                for key, vals in table_.items():
                    d = dict(key)
                    if d.get(xa) != xv or d.get(ya) != yv:
                        continue
                    mean = sum(vals) / len(vals)
                    if best is None or (mean > best if maximize else mean < best):
                        best = mean
                row.append(best)
            z.append(row)
        title = f"{seg_name} {metric}"
        if what:
            title += f" ({what})"
        if others:
            title += f", best over {', '.join(others)}"
        y_labels = [str(v) for v in reversed(values[ya])]
        marked = _best_cell(res, xa, ya, values, y_labels) if seg == "in_sample" and n_folds == 1 else []
        charts.append(heatmap([str(v) for v in values[xa]], y_labels, z, title=title, x_label=xa, y_label=ya,
                              z_format=z_fmt, higher_is_better=maximize, marked=marked))
    note = ('<p class="note">Every evaluated parameter set, not only the leaderboard. Grey cells: dropped '
            "combinations or an undefined objective. A smooth ridge that holds out-of-sample is reassuring; an "
            "isolated bright cell is usually noise.</p>")
    if n_folds == 1:
        note += '<p class="note">The outlined cell is the selected run.</p>'
    return Section("parameters", "Parameters", note + f'<div class="charts">{"".join(charts)}</div>')


def _best_cell(res: ExperimentResults, xa: str, ya: str, values: dict[str, list[Any]],
               y_labels: list[str]) -> list[tuple[int, int]]:
    best = res.summary.folds[0].best if res.summary.folds else None
    if best is None:
        return []
    p = best.params
    try:
        return [(y_labels.index(str(p[ya])), [str(v) for v in values[xa]].index(str(p[xa])))]
    except (KeyError, ValueError):
        return []


EXTRA_SECTIONS: list[SectionHook] = []  # e.g. the Optuna sections, registered by report.optuna


def _charted(res: ExperimentResults) -> list[tuple[str, str]]:
    """The derived curves the report reads: each window's best in-sample (significance, walk-forward chart), and
    the leaderboard's in- and out-of-sample (equity chart) when not a walk-forward."""
    folds = res.summary.folds
    keys = [(f.best.run_id, "in_sample") for f in folds if f.best is not None]
    if res.summary.validation.kind != "walk_forward" and folds:
        keys += [(row.run_id, segment) for row in folds[0].leaderboard for segment in ("in_sample", "out_of_sample")]
    return keys


def render_experiment_report(res: ExperimentResults) -> str:
    s = res.summary
    res.curves(_charted(res))  # read together: one streamed pass over each shard's blob
    head = [_summary(res), _provenance(res), _leaderboard(res)]
    equity = res.sections.get("equity") or equity_section(res)  # before the significance: see return_moments
    sections = [*head, _significance(res), equity]
    params = _parameters(res)
    if params is not None:
        sections.append(params)
    sections.extend(universe_sections(s))
    for hook in EXTRA_SECTIONS:
        sections.extend(hook(res))
    subtitle = f"{s.strategy} · {res.plan.data.path} · {_validation_text(s.validation)}"
    return page(f"Experiment {s.experiment_id}", subtitle, sections)
