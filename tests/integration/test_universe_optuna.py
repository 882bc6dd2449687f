"""An Optuna study over a universe of instruments (issue 12 §4): a trial is evaluated on every instrument, its
value is objective.aggregate of the per-instrument objectives, the selection statistics count every
instrument × trial, and the results do not depend on the worker count or the shard size. The history
records each trial's per-instrument values; the study report draws them (ranking, heat map, per-instrument
leaderboards)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.optimize_support import cli, results, small_config, write_json
from tests.universe_support import SYMBOLS, write_universe
from trading_runtime.report import load_results, render_report

pytestmark = pytest.mark.slow


def universe_study_config(bars: Path, aggregate: str | None = None) -> dict[str, Any]:
    cfg = small_config()
    cfg["id"] = "sma-universe"
    cfg["data"] = {"instruments": str(bars / "*.csv")}
    cfg["sweep"].update({"n_trials": 6, "batch_size": 3})
    if aggregate is not None:
        cfg["objective"] = {"aggregate": aggregate}
    return cfg


UNIVERSE_SECTIONS = ("universe", "universe-heatmap", "universe-leaderboards")


def optimize(tmp: Path, cfg: dict[str, Any], name: str, workers: int, runs_per_shard: int) -> tuple[str, dict]:
    """(study id, result documents by name and, as ``report.html``, the study report's bytes)."""
    cfg = {**cfg, "shards": {"runs_per_shard": runs_per_shard}}
    config = write_json(tmp / f"{name}.json", cfg)
    code, out, err = cli("optimize", "--config", str(config), "--store", str(tmp / name), "--workers", str(workers))
    assert code == 0, err
    study = out.strip().rstrip("/").split("/")[-2]
    report = render_report(load_results(str(tmp / name / "optimize" / study)))
    return study, {**results(tmp / name, study), "report.html": report}


def section(html: str, section_id: str) -> str:
    m = re.search(rf'<section id="{section_id}">.*?</section>', html, re.S)
    assert m is not None, section_id
    return m.group(0)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a report table, each cell's text."""
    m = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert m is not None, table_id
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1),
                                                                                   re.S)]


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("universe-bars") / "bars"
    write_universe(directory)
    return directory


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, bars: Path) -> tuple[str, dict[str, bytes]]:
    return optimize(tmp_path_factory.mktemp("baseline"), universe_study_config(bars), "w1-rps2", 1, 2)


@pytest.mark.parametrize("workers,runs_per_shard", [(2, 2), (1, 5), (2, 5)])
def test_universe_study_results_do_not_depend_on_workers_or_shard_size(tmp_path, bars, baseline, workers,
                                                                       runs_per_shard):
    study, expected = baseline
    got_study, got = optimize(tmp_path, universe_study_config(bars), "other", workers, runs_per_shard)
    assert got_study == study
    for name in expected:
        if name == "metadata.json":  # provenance: this checkout's commits (metadata)
            a, b = json.loads(expected[name]), json.loads(got[name])
            a.pop("provenance"), b.pop("provenance")
            assert a == b
        elif name == "report.html":  # the universe sections (the provenance section names the stores)
            html, other = expected[name].decode(), got[name].decode()
            for section_id in UNIVERSE_SECTIONS:
                assert section(other, section_id) == section(html, section_id), section_id
        else:
            assert got[name] == expected[name], name


def test_a_trial_is_the_mean_over_instruments_and_the_deflation_counts_every_instrument(baseline):
    _, docs = baseline
    history = json.loads(docs["optimization_history.json"])["trials"]
    perf = json.loads(docs["performance_metrics.json"])
    best = json.loads(docs["best_parameters.json"])
    folds = perf["in_sample"]["folds"]
    assert [f["fold"] for f in folds] == [f"{s}.holdout" for s in SYMBOLS]  # the best trial on every instrument
    assert best["values"] == [pytest.approx(statistics.fmean(f["metrics"]["sharpe"] for f in folds), rel=1e-12)]
    assert perf["selection_statistics"]["n_trials"] == len(history) * len(SYMBOLS)
    assert perf["selection_statistics"]["n_trials_with_sharpe"] == len(history) * len(SYMBOLS)


def test_share_positive_tells_the_share_of_instruments_with_a_positive_objective(tmp_path, bars):
    _, docs = optimize(tmp_path, universe_study_config(bars, "share_positive"), "share", 1, 3)
    perf = json.loads(docs["performance_metrics.json"])
    best = json.loads(docs["best_parameters.json"])
    positive = sum(1 for f in perf["in_sample"]["folds"] if f["metrics"]["sharpe"] > 0)
    assert best["values"] == [positive / len(SYMBOLS)]
    for trial in json.loads(docs["optimization_history.json"])["trials"]:
        assert trial["values"][0] in (0.0, 1 / 3, 2 / 3, 1.0)


def test_the_history_records_every_trials_value_on_each_instrument(baseline):
    _, docs = baseline
    history = json.loads(docs["optimization_history.json"])
    perf = json.loads(docs["performance_metrics.json"])
    best = json.loads(docs["best_parameters.json"])
    assert history["aggregate"] == "mean"
    trials = history["trials"]
    assert all(sorted(t["instruments"]) == list(SYMBOLS) for t in trials)
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert complete
    for t in complete:  # the told value is the mean of the recorded per-instrument values
        values = [t["instruments"][s][0] for s in SYMBOLS]
        assert t["values"] == [pytest.approx(statistics.fmean(values), rel=1e-12)]
    # the best trial's per-instrument values are its re-evaluated in-sample Sharpe on each instrument
    row = next(t for t in trials if t["number"] == best["trial"])
    by_fold = {f["fold"]: f["metrics"]["sharpe"] for f in perf["in_sample"]["folds"]}
    assert {s: v[0] for s, v in row["instruments"].items()} == {
        s: pytest.approx(by_fold[f"{s}.holdout"], rel=1e-12) for s in SYMBOLS}


def test_the_told_value_is_the_worst_instrument_under_min(tmp_path, bars):
    _, docs = optimize(tmp_path, universe_study_config(bars, "min"), "min", 2, 4)
    history = json.loads(docs["optimization_history.json"])
    assert history["aggregate"] == "min"
    complete = [t for t in history["trials"] if t["state"] == "COMPLETE"]
    assert complete
    for t in complete:
        assert t["values"] == [min(t["instruments"][s][0] for s in SYMBOLS)]


def test_the_study_report_draws_each_instrument(baseline):
    _, docs = baseline
    html = docs["report.html"].decode()
    trials = json.loads(docs["optimization_history.json"])["trials"]
    complete = sorted((t for t in trials if t["state"] == "COMPLETE"), key=lambda t: (-t["values"][0], t["number"]))
    heat = section(html, "universe-heatmap")
    assert "<svg" in heat and "rows: trials, best by mean first" in heat
    assert all(f">{s}<" in heat for s in SYMBOLS)  # every instrument names a column
    ranking = table_rows(section(html, "universe"), "universe-ranking")
    assert [int(r[1]) for r in ranking] == [t["number"] for t in complete]  # ranked by the told aggregate
    boards = section(html, "universe-leaderboards")
    for s in SYMBOLS:
        rows = table_rows(boards, f"universe-leaderboard-{s}")
        on = sorted((t for t in trials if t["instruments"][s]), key=lambda t: (-t["instruments"][s][0], t["number"]))
        assert [int(r[1]) for r in rows] == [t["number"] for t in on[:5]]  # the top trials by that instrument
