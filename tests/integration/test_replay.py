"""``backtest --experiment URI --run RUN_ID``: a sweep's best run replayed from the CLI gives the shard's
metrics exactly (same floats), in the usual backtest files; bad input is one line and exit 2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from tests.experiment_support import cli, experiment_config, problem_lines, write_json
from tests.optimize_support import small_config
from trading_runtime.store import open_store

pytestmark = pytest.mark.slow

BACKTEST_FILES = {"stats.json", "trades.csv", "equity.parquet", "manifest.json", "meta.json", "report.html"}


@dataclass
class Swept:
    tmp: Path
    results: str  # <store>/experiments/<id>
    summary: dict[str, Any]
    shard_runs: dict[str, dict[str, Any]]  # run id -> its record in the shard results


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    tmp = tmp_path_factory.mktemp("replay")
    config = write_json(tmp / "exp.json", experiment_config(store=str(tmp / "store"), shards={"runs_per_shard": 30}))
    done = cli("sweep", "--config", str(config))
    assert done.returncode == 0, done.stderr
    store = open_store(str(tmp / "store"))
    (experiment_id,) = {k.split("/")[1] for k in store.list_keys("experiments/")}
    results = f"{tmp / 'store'}/experiments/{experiment_id}"
    summary = json.loads(store.get_bytes(f"experiments/{experiment_id}/summary.json"))
    shard_runs = {}
    for key in store.list_keys(f"experiments/{experiment_id}/shards/"):
        if key.endswith("/result.json"):
            shard_runs.update({r["run_id"]: r for r in json.loads(store.get_bytes(key))["runs"]})
    return Swept(tmp, results, summary, shard_runs)


def _replay(swept: Swept, run_id: str, out: str, *extra: str) -> CompletedProcess[str]:
    return cli("backtest", "--experiment", swept.results, "--run", run_id, "--output-dir", str(swept.tmp / out),
               *extra)


@pytest.mark.parametrize("segment", ["out_of_sample", "in_sample"])
def test_the_best_run_replays_with_the_shard_results_metrics_exactly(swept: Swept, segment: str):
    best = swept.summary["folds"][-1]["leaderboard"][0]["run_id"]
    extra = () if segment == "out_of_sample" else ("--segment", "in_sample")  # out_of_sample is the default
    done = _replay(swept, best, segment, *extra)
    assert done.returncode == 0, done.stderr
    out = swept.tmp / segment
    assert {p.name for p in out.iterdir()} == BACKTEST_FILES
    stats = json.loads((out / "stats.json").read_text())
    assert stats == swept.shard_runs[best][segment]  # every float equal, not close
    assert stats["n_trades"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["strategy"]["params"] == swept.shard_runs[best]["params"]


def test_a_replay_writes_the_same_bytes_twice(swept: Swept):
    run_id = swept.summary["folds"][0]["leaderboard"][0]["run_id"]
    for out in ("again-1", "again-2"):
        assert _replay(swept, run_id, out).returncode == 0
    for name in ("stats.json", "trades.csv", "equity.parquet"):
        assert (swept.tmp / "again-1" / name).read_bytes() == (swept.tmp / "again-2" / name).read_bytes()


@pytest.mark.parametrize("case", ["unknown-run", "unknown-experiment", "not-an-experiment-uri", "both"])
def test_bad_replay_input_is_one_line_and_exit_2(swept: Swept, case: str):
    run_id = next(iter(swept.shard_runs))
    if case == "unknown-run":
        done = _replay(swept, "run-0000000000000000", case)
        expected = "no run 'run-0000000000000000'"
    elif case == "unknown-experiment":
        done = cli("backtest", "--experiment", swept.results[:-3] + "zzz", "--run", run_id)
        expected = "no plan"
    elif case == "not-an-experiment-uri":
        done = cli("backtest", "--experiment", str(swept.tmp), "--run", run_id)
        expected = "expected <store>/experiments/<id>"
    else:
        done = cli("backtest", "--experiment", swept.results, "--run", run_id, "--config", "x.json")
        expected = "not both"
    lines = problem_lines(done.stderr)
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in done.stderr
    assert not (swept.tmp / case).exists()


def test_an_optuna_studys_best_run_replays_with_its_shard_metrics(tmp_path: Path):
    config = small_config()
    config["store"] = str(tmp_path / "store")
    done = cli("optimize", "--config", str(write_json(tmp_path / "opt.json", config)))
    assert done.returncode == 0, done.stderr
    store = open_store(str(tmp_path / "store"))
    (best,) = {k.split("/")[1] for k in store.list_keys("experiments/") if k.split("/")[1].endswith(".best")}
    (key,) = [k for k in store.list_keys(f"experiments/{best}/shards/") if k.endswith("/result.json")]
    run = json.loads(store.get_bytes(key))["runs"][0]
    replay = cli("backtest", "--experiment", f"{tmp_path / 'store'}/experiments/{best}", "--run", run["run_id"],
                 "--output-dir", str(tmp_path / "out"))
    assert replay.returncode == 0, replay.stderr
    assert json.loads((tmp_path / "out" / "stats.json").read_text()) == run["out_of_sample"]


def test_an_experiment_config_refuses_data_warmup_bars(tmp_path: Path):
    config = experiment_config(store=str(tmp_path / "store"), data={"warmup_bars": 10})
    done = cli("plan", "--config", str(write_json(tmp_path / "exp.json", config)))
    lines = problem_lines(done.stderr)
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "data.warmup_bars (10) is a backtest's" in lines[0], lines


def test_a_backtest_config_with_data_warmup_bars_needs_data_start(tmp_path: Path):
    """data.warmup_bars are the bars before data.start; without a start there are none, so the warm-up would
    be silently ignored: exit 2, one line, nothing written. With a start it warms the strategy up."""
    config: dict[str, Any] = {
        "schema_version": 1, "id": "warm", "seed": 1,
        "data": {"path": "tests/data/parts/synthetic_1m.csv", "end": "2024-01-02T00:00:00Z", "warmup_bars": 100},
        "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {"fast": 5, "slow": 20}}}
    path = write_json(tmp_path / "warm.json", config)
    done = cli("backtest", "--config", str(path), "--output-dir", str(tmp_path / "out"))
    assert (done.returncode, problem_lines(done.stderr)) == (2, [
        f"{path}: data.warmup_bars (100) needs data.start: the warm-up is the bars before it, and without it the "
        "backtest starts at the first bar (set data.start to the first bar to trade, or leave data.warmup_bars "
        "out)"])
    assert not (tmp_path / "out").exists()
    config["data"]["start"] = "2024-01-01T12:00:00Z"
    done = cli("backtest", "--config", str(write_json(path, config)), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    # the bars read start 100 one-minute bars before data.start (2024-01-01T12:00Z = 1704110400 s)
    assert manifest["data"]["first_ts"] == (1704110400 - 100 * 60) * 10**9
