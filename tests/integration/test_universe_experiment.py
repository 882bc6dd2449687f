"""A grid experiment over a universe of instruments (issue 12 §4): the instrument is a plan dimension, the
summary ranks parameter sets per instrument and by the declared aggregate, and its bytes do not depend on the
worker count or the shard size; a shard loads only the instruments it needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import experiment_config, sweep_in_process, write_json
from tests.universe_support import SYMBOLS, write_universe
from trading_runtime.execution.experiment import build_plan, inputs_for_plan, load_inputs
from trading_runtime.planning import read_plan

pytestmark = pytest.mark.slow


def universe_config(bars: Path, **overrides: Any) -> dict[str, Any]:
    return experiment_config(**{
        "data": {"path": None, "end": None, "instruments": str(bars / "*.csv")},
        "sweep": {"kind": "grid", "params": {"fast": [5, 20], "slow": [60, 120]}},
        "validation": {"kind": "holdout", "test_fraction": 0.3}, **overrides})


def sweep(tmp: Path, cfg: dict[str, Any], name: str, runs_per_shard: int, workers: int) -> tuple[str, bytes, Any]:
    return sweep_in_process(tmp, {**cfg, "shards": {"runs_per_shard": runs_per_shard}}, name, workers)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes, Any]]:
    tmp = tmp_path_factory.mktemp("universe")
    cfg = universe_config(write_universe(tmp / "bars")["AAA"].parent)
    return {
        "w1-rps3": sweep(tmp, cfg, "w1-rps3", 3, 1),
        "w2-rps3": sweep(tmp, cfg, "w2-rps3", 3, 2),
        "w1-rps5": sweep(tmp, cfg, "w1-rps5", 5, 1),
        "w2-rps5": sweep(tmp, cfg, "w2-rps5", 5, 2),
    }


def test_universe_summary_bytes_do_not_depend_on_workers_or_shard_size(sweeps):
    ids = {eid for eid, _, _ in sweeps.values()}
    assert len(ids) == 1
    reference = sweeps["w1-rps3"][1]
    for name, (_, summary, _) in sweeps.items():
        assert summary == reference, f"{name}: summary.json differs from w1-rps3"
    doc = json.loads(reference)
    assert doc["runs"] == {"expected": 12, "completed": 12, "failed": 0, "missing": 0}  # 3 instruments × 4 sets
    assert [f["instrument"] for f in doc["folds"]] == list(SYMBOLS)
    assert sorted(doc["instruments"]) == list(SYMBOLS)
    universe = doc["universe"]
    assert universe["aggregate"] == "mean" and universe["parameter_sets"] == 4
    assert [i["symbol"] for i in universe["instruments"]] == list(SYMBOLS)


def test_aggregate_ranking_is_the_mean_of_the_per_instrument_objectives(sweeps):
    doc = json.loads(sweeps["w1-rps3"][1])
    by_fold = {f["instrument"]: {json.dumps(r["params"], sort_keys=True): r["objective"] for r in f["leaderboard"]}
               for f in doc["folds"]}
    ranking = doc["universe"]["ranking"]
    means = [row["aggregate"] for row in ranking]
    assert means == sorted(means, reverse=True)
    for row in ranking:
        key = json.dumps(row["params"], sort_keys=True)
        for symbol in SYMBOLS:
            if key in by_fold[symbol]:  # the leaderboard holds the top_k (2) per instrument
                assert row["instruments"][symbol] == by_fold[symbol][key]
        values = [row["instruments"][s] for s in SYMBOLS]
        assert row["aggregate"] == pytest.approx(sum(values) / 3, rel=1e-15)


def test_run_ids_include_the_instrument_and_a_shard_loads_only_its_instruments(sweeps):
    _, _, store = sweeps["w1-rps3"]
    eid = sweeps["w1-rps3"][0]
    plan = read_plan(store, eid)
    assert plan.instruments is not None and [i.symbol for i in plan.instruments] == list(SYMBOLS)
    assert len({r.run_id for r in plan.runs}) == 12  # the same params on each instrument: different runs
    first = plan.shards[0]
    inputs = inputs_for_plan(plan, Path.cwd(), shard_id=first.shard_id)
    assert inputs.instruments is not None and sorted(inputs.instruments) == ["AAA"]  # 3 runs per shard: AAA's
    everything = inputs_for_plan(plan, Path.cwd())
    assert everything.instruments is not None and sorted(everything.instruments) == list(SYMBOLS)


def test_plan_of_a_universe_matches_a_plan_of_each_instrument_alone(tmp_path: Path):
    """The universe's runs of one instrument evaluate the same windows as that instrument's own experiment."""
    paths = write_universe(tmp_path / "bars")
    cfg = universe_config(tmp_path / "bars")
    from trading_runtime.config.experiment import ExperimentConfig
    plan = build_plan(load_inputs(ExperimentConfig.model_validate(cfg), "universe", Path.cwd()))
    for symbol in SYMBOLS:
        alone = {**cfg, "data": {**cfg["data"], "instruments": None, "path": str(paths[symbol])}}
        alone["data"] = {k: v for k, v in alone["data"].items() if v is not None}
        single = build_plan(load_inputs(ExperimentConfig.model_validate(alone), symbol, Path.cwd()))
        mine = [f for f in plan.folds if f.instrument == symbol]
        assert [f.model_copy(update={"id": single.folds[0].id, "instrument": None}) for f in mine] == single.folds
        ref = next(i for i in plan.instruments or [] if i.symbol == symbol)
        assert ref.data == single.data


def test_the_report_shows_the_aggregate_ranking_and_the_parameters_by_instruments_heat_map(sweeps):
    reports = {}
    for name, (eid, _, store) in sweeps.items():
        html = store.get_bytes(f"experiments/{eid}/report.html").decode()
        reports[name] = html[html.index('id="universe"'):]  # (the page also shows how the work was split)
    assert len(set(reports.values())) == 1  # the universe sections: the same whatever the workers and shard size
    eid, _, store = sweeps["w1-rps3"]
    html = store.get_bytes(f"experiments/{eid}/report.html").decode()
    doc = json.loads(sweeps["w1-rps3"][1])
    assert 'id="universe-ranking"' in html
    heatmap = html[html.index('id="universe-heatmap"'):]
    heatmap = heatmap[: heatmap.index("</svg>")]
    for symbol in SYMBOLS:
        assert f">{symbol}<" in heatmap
    best = doc["universe"]["ranking"][0]["params"]
    assert ", ".join(f"{k}={v}" for k, v in sorted(best.items())) in heatmap
    for symbol in SYMBOLS:  # the per-instrument leaderboards
        assert f'id="leaderboard-{symbol}.holdout"' in html


def test_a_universe_run_replays_on_its_instrument_alone_with_the_shard_results_metrics(sweeps, tmp_path):
    from tests.experiment_support import cli
    from trading_runtime.fanin import collect_shards

    eid, _, store = sweeps["w1-rps3"]
    plan = read_plan(store, eid)
    records = {r["run_id"]: r for s in collect_shards(store, plan).shards for r in (s.result or {})["runs"]}
    run = next(r for r in plan.runs if plan.fold_index()[r.fold].instrument == "BBB")
    out = tmp_path / "replay"
    done = cli("backtest", "--experiment", f"{store.uri}/experiments/{eid}", "--run", run.run_id,
               "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "stats.json").read_text()) == records[run.run_id]["out_of_sample"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["path"].endswith("BBB.csv")


def test_a_walk_forward_universe_stitches_each_instrument_and_its_report_charts_them(tmp_path: Path):
    """Walk-forward over a universe: oos_equity.json holds one stitched curve per instrument, its bytes (and the
    summary's) do not depend on workers or shard size, and the report charts every instrument's stitched curve
    (it once failed with a KeyError on the universe's oos_equity.json)."""
    cfg = universe_config(write_universe(tmp_path / "bars")["AAA"].parent,
                          validation={"kind": "walk_forward", "train": "12h", "test": "6h"})
    results = [sweep(tmp_path, cfg, "wf-w1-rps4", 4, 1), sweep(tmp_path, cfg, "wf-w2-rps7", 7, 2)]
    oos = [store.get_bytes(f"experiments/{eid}/oos_equity.json") for eid, _, store in results]
    assert results[0][1] == results[1][1] and oos[0] == oos[1]
    stitched = json.loads(oos[0])["instruments"]
    assert sorted(stitched) == list(SYMBOLS)
    eid, _, store = results[0]
    html = store.get_bytes(f"experiments/{eid}/report.html").decode()
    chart = html[html.index("Stitched out-of-sample equity per instrument"):]
    chart = chart[: chart.index("</svg>")]
    for symbol in SYMBOLS:
        assert f">{symbol}<" in chart


def test_the_plan_summary_counts_the_windows_of_every_instrument(tmp_path: Path):
    """`plan` over a universe says its windows are the instruments' together (the CLI, stderr)."""
    from tests.experiment_support import cli

    write_universe(tmp_path / "bars")
    cfg = universe_config(tmp_path / "bars")
    done = cli("plan", "--config", str(write_json(tmp_path / "u.json", cfg)), "--store", str(tmp_path / "store"))
    assert done.returncode == 0, done.stderr
    runs = [line for line in done.stderr.splitlines() if line.startswith("  runs ")]
    # 2 × 2 valid (fast, slow) pairs, one holdout window per instrument
    assert runs == ["  runs 12 = 4 parameter sets × 3 window(s) of 3 instruments (holdout), warm-up 120 bars"]
