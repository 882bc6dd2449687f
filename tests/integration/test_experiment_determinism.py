"""Determinism: summary.json is the same bytes whatever the worker count and shard size; windows are honest.

Sweeps run through the real CLI entry (``trading_runtime.cli.main.main``) in this process; with
``--workers 2`` the shards run in worker processes. The experiment is the small shared test config
(12 SMA pairs on 4 days of the committed bars).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.experiment_support import experiment_config, summary_bytes, sweep_in_process, write_json
from trading_framework import FeatureCache, run_backtest
from trading_runtime.cli.main import main
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.experiment import build_plan, load_inputs
from trading_runtime.execution.shard import evaluate_shard
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import open_store, read_complete

pytestmark = pytest.mark.slow

VALIDATIONS = {
    "walk_forward": {"kind": "walk_forward", "train": "1d", "test": "12h", "step": "12h"},
    "holdout": {"kind": "holdout", "test_fraction": 0.3},
    "full": {"kind": "full"},
}
ALL = 1_000_000  # runs per shard: every run in one shard


def sweep(tmp: Path, name: str, validation: str, runs_per_shard: int, workers: int,
          max_shards: int = 1000) -> tuple[str, bytes, Any]:
    """Run ``sweep`` into a fresh store; (experiment id, summary.json bytes, the store)."""
    cfg = experiment_config(validation=VALIDATIONS[validation],
                            shards={"runs_per_shard": runs_per_shard, "max_shards": max_shards})
    return sweep_in_process(tmp, cfg, name, workers)


@pytest.fixture(scope="module")
def walk_forward_sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes, Any]]:
    tmp = tmp_path_factory.mktemp("determinism")
    return {
        "w1-rps7": sweep(tmp, "w1-rps7", "walk_forward", 7, 1),
        "w2-rps7": sweep(tmp, "w2-rps7", "walk_forward", 7, 2),
        "w1-rps1": sweep(tmp, "w1-rps1", "walk_forward", 1, 1),
        "w2-all": sweep(tmp, "w2-all", "walk_forward", ALL, 2),
        "w1-max4": sweep(tmp, "w1-max4", "walk_forward", 1, 1, max_shards=4),  # grown to 15 runs per shard
    }


def test_summary_bytes_do_not_depend_on_workers_or_shard_size(walk_forward_sweeps):
    ids = {name: eid for name, (eid, _, _) in walk_forward_sweeps.items()}
    assert len(set(ids.values())) == 1, ids  # how the work was split is not part of the identity
    reference = walk_forward_sweeps["w1-rps7"][1]
    for name, (_, summary, _) in walk_forward_sweeps.items():
        assert summary == reference, f"{name}: summary.json differs from w1-rps7"
    doc = json.loads(reference)
    assert doc["runs"] == {"expected": 60, "completed": 60, "failed": 0, "missing": 0}
    assert len(doc["walk_forward"]["folds"]) == 5


def test_stitched_out_of_sample_equity_does_not_depend_on_workers_or_shard_size(walk_forward_sweeps):
    blobs = {name: read_complete(store, ExperimentKeys(eid).oos_equity)
             for name, (eid, _, store) in walk_forward_sweeps.items()}
    assert len(set(blobs.values())) == 1
    doc = json.loads(blobs["w1-rps7"])
    assert len(doc["ts"]) == len(doc["equity"]) == 5 * 720  # five 12-hour out-of-sample windows


def test_shard_split_is_what_the_plan_says(walk_forward_sweeps):
    _, _, store = walk_forward_sweeps["w1-rps1"]
    eid = walk_forward_sweeps["w1-rps1"][0]
    fanin = json.loads(store.get_bytes(ExperimentKeys(eid).fanin))
    assert fanin["shards"]["expected"] == fanin["shards"]["completed"] == 60
    _, _, store = walk_forward_sweeps["w2-all"]
    fanin = json.loads(store.get_bytes(ExperimentKeys(eid).fanin))
    assert fanin["shards"]["completed_ids"] == ["shard-00000"]
    _, _, store = walk_forward_sweeps["w1-max4"]
    plan = json.loads(read_complete(store, ExperimentKeys(eid).plan))
    assert plan["sharding"] == {"runs_per_shard": 15, "requested_runs_per_shard": 1, "max_shards": 4, "grown": True}
    assert [len(s["run_ids"]) for s in plan["shards"]] == [15, 15, 15, 15]
    fanin = json.loads(store.get_bytes(ExperimentKeys(eid).fanin))
    assert fanin["shards"]["expected"] == fanin["shards"]["completed"] == 4


@pytest.mark.parametrize("validation", ["holdout", "full"])
def test_holdout_and_full_summaries_do_not_depend_on_workers_or_shard_size(tmp_path, validation):
    one = sweep(tmp_path, "one", validation, ALL, 1)
    many = sweep(tmp_path, "many", validation, 1, 2)
    assert one[0] == many[0]
    assert one[1] == many[1]
    doc = json.loads(one[1])
    assert doc["runs"]["completed"] == 12
    assert len(doc["leaderboard"]) == 2  # top_k
    if validation == "holdout":
        assert doc["holdout"]["best_run_id"] == doc["leaderboard"][0]["run_id"]
        assert doc["holdout"]["out_of_sample"] == doc["leaderboard"][0]["out_of_sample"]


# -- a window's run is the same as the same bars of an unsegmented run --------------------------------


def _canonical(metrics: dict[str, Any]) -> Any:
    return json.loads(canonical_bytes(metrics))


def _window_checks(cfg: dict[str, Any]) -> tuple[int, list[str]]:
    """Every run of every fold evaluated as a shard, compared with two standalone framework runs.

    Returns (warm-up bars, mismatches): for each (run, segment), the shard's metrics must equal
    (a) run_backtest on bars[warmup_start:stop] with start = start - warmup_start (what a shard does,
    done by hand) and (b) run_backtest on bars[0:stop] with start = start: the strategy sees all the
    history before the window, scoring starts at the same bar. And the targets that act inside the
    window (decided on closes start-1 .. stop-2) must equal the unsegmented run's.
    """
    config = ExperimentConfig.model_validate(cfg)
    inputs = load_inputs(config, "exp.json", Path.cwd())
    plan = build_plan(inputs)
    bars, cls, spec = inputs.data.bars, inputs.strategy_cls, execution_spec(config)
    folds = plan.fold_index()
    mismatches = []
    for shard in plan.shards:
        out = evaluate_shard(plan, shard.shard_id, config, bars, cls, spec, 60)
        for rec in out.result["runs"]:
            strategy = cls(cls.Params.model_validate(rec["params"]))
            for name in ("in_sample", "out_of_sample"):
                seg = getattr(folds[rec["fold"]], name)
                if seg is None:
                    continue
                window = bars.slice(seg.warmup_start, seg.stop)
                k = seg.start - seg.warmup_start
                windowed = run_backtest(window, strategy, spec, 60, start=k)
                head = bars.slice(0, seg.stop)
                unsegmented = run_backtest(head, strategy, spec, 60, start=seg.start)
                where = f"{rec['fold']} {name} {rec['params']}"
                if _canonical(windowed.metrics) != rec[name]:
                    mismatches.append(f"{where}: shard != windowed backtest")
                if _canonical(unsegmented.metrics) != rec[name]:
                    mismatches.append(f"{where}: shard != unsegmented backtest")
                t_win = strategy.target(window, FeatureCache(window))[k - 1:]
                t_all = strategy.target(head, FeatureCache(head))[seg.start - 1:]
                if not np.array_equal(t_win, t_all):
                    mismatches.append(f"{where}: targets differ")
    return plan.warmup_bars, mismatches


def test_windowed_runs_equal_the_same_bars_of_an_unsegmented_run():
    warmup, mismatches = _window_checks(experiment_config())
    assert warmup == 120  # slow 120: 119 flat bars + the close that decides the first scored bar
    assert mismatches == []


def test_a_warm_up_shorter_than_the_strategy_needs_is_caught_by_the_same_check():
    # The check has teeth: with 60 warm-up bars, SMA(90) and SMA(120) are still undefined at the start
    # of each window, so windowed runs trade differently from the unsegmented ones.
    warmup, mismatches = _window_checks(experiment_config(warmup_bars=60))
    assert warmup == 60
    assert any("slow': 120}: shard != unsegmented backtest" in m for m in mismatches)
    assert not any("slow': 30}" in m for m in mismatches)  # SMA(30) is warm after 60 bars


# -- the leaderboard: objective first, ties by run id, constraint violators excluded and counted ------


def test_leaderboard_ranks_by_objective_breaks_ties_by_run_id_and_counts_exclusions(tmp_path):
    # label changes nothing, so the 3 runs of each (fast, slow) pair tie exactly; min_trades 50 excludes
    # (10, 120) and (20, 120), max_drawdown 0.075 excludes (20, 90): 9 of 36 runs
    cfg = experiment_config(
        strategy={"class_path": "tests.experiment_strategies:LabelledSmaCross", "params": {}},
        sweep={"kind": "grid", "params": {"label": [2, 0, 1], "fast": [5, 10, 20], "slow": [30, 60, 90, 120]}},
        validation={"kind": "full"}, shards={"runs_per_shard": 5}, report={"top_k": 7},
        objective={"metric": "sharpe", "constraints": {"min_trades": 50, "max_drawdown": 0.075}})
    path = write_json(tmp_path / "labelled.json", cfg)
    store_dir = tmp_path / "store"
    assert main(["sweep", "--config", str(path), "--store", str(store_dir), "--workers", "2", "-q",
                 "--allow-strategy-prefix", "tests.experiment_strategies"]) == 0
    store = open_store(str(store_dir))
    eid = store.list_keys("experiments/")[0].split("/")[1]
    summary = json.loads(summary_bytes(store, eid))
    plan = json.loads(read_complete(store, ExperimentKeys(eid).plan))
    keys = ExperimentKeys(eid, plan["split"])
    runs = [r for s in plan["shards"]
            for r in json.loads(read_complete(store, keys.shard_result(s["shard_id"])))["runs"]]
    assert len(runs) == 36

    def violates(m):
        return m["n_trades"] < 50 or m["max_drawdown"] > 0.075

    eligible = [r for r in runs if not violates(r["in_sample"])]
    expected = sorted(eligible, key=lambda r: (-r["in_sample"]["sharpe"], r["run_id"]))[:7]
    fold = summary["folds"][0]
    counts = (fold["runs"], fold["ranked"], fold["excluded_by_constraints"], fold["undefined_objective"])
    assert counts == (36, 27, 9, 0)
    excluded = {(r["params"]["fast"], r["params"]["slow"]) for r in runs if violates(r["in_sample"])}
    assert excluded == {(10, 120), (20, 120), (20, 90)}
    board = summary["leaderboard"]
    assert [e["run_id"] for e in board] == [r["run_id"] for r in expected]
    assert [e["rank"] for e in board] == list(range(1, 8))
    pairs = [(e["params"]["fast"], e["params"]["slow"]) for e in board]
    assert pairs == [(5, 120)] * 3 + [(20, 30)] * 3 + [(5, 90)]  # ties kept together...
    assert [e["run_id"] for e in board[:3]] == sorted(e["run_id"] for e in board[:3])  # ...in run id order
    assert len({e["objective"] for e in board[:3]}) == 1
