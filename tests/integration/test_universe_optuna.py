"""An Optuna study over a universe of instruments (issue 12 §4): a trial is evaluated on every instrument, its
value is objective.aggregate of the per-instrument objectives, the selection statistics count every
instrument × trial, and the results do not depend on the worker count or the shard size."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.optimize_support import cli, results, small_config, write_json
from tests.universe_support import SYMBOLS, write_universe

pytestmark = pytest.mark.slow


def universe_study_config(bars: Path, aggregate: str | None = None) -> dict[str, Any]:
    cfg = small_config()
    cfg["id"] = "sma-universe"
    cfg["data"] = {"instruments": str(bars / "*.csv")}
    cfg["sweep"].update({"n_trials": 6, "batch_size": 3})
    if aggregate is not None:
        cfg["objective"] = {"aggregate": aggregate}
    return cfg


def optimize(tmp: Path, cfg: dict[str, Any], name: str, workers: int, runs_per_shard: int) -> tuple[str, dict]:
    cfg = {**cfg, "shards": {"runs_per_shard": runs_per_shard}}
    config = write_json(tmp / f"{name}.json", cfg)
    code, out, err = cli("optimize", "--config", str(config), "--store", str(tmp / name), "--workers", str(workers))
    assert code == 0, err
    study = out.strip().rstrip("/").split("/")[-2]
    return study, results(tmp / name, study)


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
