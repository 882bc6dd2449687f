"""plan → run-shard (each shard) → finalize → validate, every step a real ``python -m trading_runtime`` process.

One pipeline runs once per module (fixture ``pipeline``): plan (twice, and a dry run), every shard but
the last, finalize (which must fail naming the missing shard), the last shard, finalize again. The
tests then check what each step printed and wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from tests.experiment_support import cli, experiment_config, problem_lines, read_json, write_json
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import ArtifactStore, open_store, read_complete

pytestmark = pytest.mark.slow

RUNS_PER_SHARD = 20  # 12 parameter pairs × 5 walk-forward folds = 60 runs → 3 shards


@dataclass
class Pipeline:
    tmp: Path
    config: Path
    store: ArtifactStore
    plan: CompletedProcess[str]
    plan_again: CompletedProcess[str]
    plan_again_store: ArtifactStore
    dry_run: CompletedProcess[str]
    dry_run_store: Path
    experiment_id: str
    shard_ids: list[str]
    shards: list[CompletedProcess[str]]
    finalize_missing: CompletedProcess[str]
    fanin_missing: dict[str, Any]
    finalize: CompletedProcess[str]

    @property
    def keys(self) -> ExperimentKeys:
        return ExperimentKeys(self.experiment_id, f"rps-{RUNS_PER_SHARD}")

    @property
    def results_uri(self) -> str:
        return f"{self.store.uri}/experiments/{self.experiment_id}"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    tmp = tmp_path_factory.mktemp("cli")
    store_dir = tmp / "store"
    config = write_json(tmp / "exp.json", experiment_config(shards={"runs_per_shard": RUNS_PER_SHARD},
                                                            store=str(store_dir)))
    plan = cli("plan", "--config", str(config))
    assert plan.returncode == 0, plan.stderr
    shard_ids = json.loads(plan.stdout)
    store = open_store(str(store_dir))
    experiment_id = next(iter(store.list_keys("experiments/"))).split("/")[1]
    plan_again = cli("plan", "--config", str(config), "--store", str(tmp / "again"))
    dry_run = cli("plan", "--config", str(config), "--store", str(tmp / "dry"), "--dry-run")

    shards = [cli("run-shard", "--store", str(store_dir), "--experiment", experiment_id, "--shard", sid)
              for sid in shard_ids[:-1]]
    finalize_missing = cli("finalize", "--store", str(store_dir), "--experiment", experiment_id)
    fanin_missing = read_json(store, ExperimentKeys(experiment_id).fanin)
    shards.append(cli("run-shard", "--store", str(store_dir), "--experiment", experiment_id,
                      "--shard", shard_ids[-1]))
    finalize = cli("finalize", "--store", store.uri, "--experiment", experiment_id)
    return Pipeline(tmp, config, store, plan, plan_again, open_store(str(tmp / "again")), dry_run, tmp / "dry",
                    experiment_id, shard_ids, shards, finalize_missing, fanin_missing, finalize)


# -- plan -------------------------------------------------------------------------------------------


def test_plan_prints_exactly_the_shard_id_list_on_stdout(pipeline: Pipeline):
    assert pipeline.shard_ids == ["shard-00000", "shard-00001", "shard-00002"]
    assert pipeline.plan.stdout == '["shard-00000", "shard-00001", "shard-00002"]\n'
    plan = json.loads(read_complete(pipeline.store, pipeline.keys.plan))
    assert [s["shard_id"] for s in plan["shards"]] == pipeline.shard_ids
    assert sum(len(s["run_ids"]) for s in plan["shards"]) == len(plan["runs"]) == 60


def test_plan_summary_goes_to_stderr(pipeline: Pipeline):
    lines = problem_lines(pipeline.plan.stderr)
    assert lines[0] == f"experiment {pipeline.experiment_id}"
    assert lines[1] == "  runs 60 = 12 parameter sets × 5 window(s) (walk_forward), warm-up 120 bars"
    assert lines[2] == "  shards 3 (20 runs per shard)"
    assert lines[3] == "  dropped combinations 0 of 12: none"
    assert lines[-1] == f"  plan {pipeline.results_uri}/plan.json"
    assert "Traceback" not in pipeline.plan.stderr


def test_plan_is_deterministic(pipeline: Pipeline):
    assert pipeline.plan_again.returncode == 0, pipeline.plan_again.stderr
    assert pipeline.plan_again.stdout == pipeline.plan.stdout
    assert (pipeline.plan_again_store.get_bytes(pipeline.keys.plan)
            == pipeline.store.get_bytes(pipeline.keys.plan))


def test_dry_run_writes_nothing_and_prints_no_shards(pipeline: Pipeline):
    assert pipeline.dry_run.returncode == 0, pipeline.dry_run.stderr
    assert pipeline.dry_run.stdout == ""
    assert problem_lines(pipeline.dry_run.stderr)[0] == f"experiment {pipeline.experiment_id}"
    assert not pipeline.dry_run_store.exists()


# -- run-shard and finalize -------------------------------------------------------------------------


def test_each_shard_writes_its_result_and_a_verifying_marker(pipeline: Pipeline):
    for sid, proc in zip(pipeline.shard_ids, pipeline.shards, strict=True):
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == ""
        result = json.loads(read_complete(pipeline.store, pipeline.keys.shard_result(sid)))
        assert result["shard_id"] == sid
        assert len(result["runs"]) == RUNS_PER_SHARD
        marker = read_json(pipeline.store, pipeline.keys.shard_result(sid) + ".SUCCESS")
        assert marker["size"] == len(pipeline.store.get_bytes(pipeline.keys.shard_result(sid)))


def test_a_shard_writes_only_its_result_and_marker(pipeline: Pipeline):
    for sid in pipeline.shard_ids:
        folder = str(Path(pipeline.keys.shard_result(sid)).parent)
        assert pipeline.store.list_keys(folder + "/") == [pipeline.keys.shard_result(sid),
                                                          pipeline.keys.shard_result(sid) + ".SUCCESS"]
        result = json.loads(read_complete(pipeline.store, pipeline.keys.shard_result(sid)))
        assert sorted(result) == ["experiment_id", "runs", "schema_version", "shard_id"]
        assert result["schema_version"] == 2


def test_finalize_derives_the_curves_of_the_global_top_k_runs_per_fold_only(pipeline: Pipeline):
    runs = [r for sid in pipeline.shard_ids
            for r in json.loads(read_complete(pipeline.store, pipeline.keys.shard_result(sid)))["runs"]]
    by_fold: dict[str, list[tuple[float, str]]] = {}
    for r in runs:  # eligible: min_trades 3 met, Sharpe defined
        if r["in_sample"]["n_trades"] >= 3 and r["in_sample"]["sharpe"] is not None:
            by_fold.setdefault(r["fold"], []).append((-r["in_sample"]["sharpe"], r["run_id"]))
    top = sorted(rid for ranked in by_fold.values() for _, rid in sorted(ranked)[:2])  # top_k 2
    assert len(top) == 2 * 5
    index = json.loads(read_complete(pipeline.store, pipeline.keys.curves))
    series = index["series"]
    assert [(s["run_id"], s["segment"]) for s in series] == [
        (rid, seg) for rid in top for seg in ("in_sample", "out_of_sample")]
    blob = pipeline.store.get_bytes(pipeline.keys.curves_blob)
    assert hashlib.sha256(blob).hexdigest() == index["sha256"]
    # 8 bytes of equity per bar of each series, plus 8 bytes of timestamps per bar of each window
    fold_of = {r["run_id"]: r["fold"] for r in runs}
    windows = {(fold_of[s["run_id"]], s["segment"]): s["length"] for s in series}
    assert len(blob) == index["size"] == 8 * (sum(s["length"] for s in series) + sum(windows.values()))
    assert len({s["ts_offset"] for s in series}) == len(windows)


def test_finalize_with_a_missing_shard_exits_3_naming_it(pipeline: Pipeline):
    proc = pipeline.finalize_missing
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert problem_lines(proc.stderr) == [
        f"experiment {pipeline.experiment_id}: 2 of 3 shards complete (0 failed, 1 missing); runs 40 of 60",
        "shard shard-00002: missing (no completion marker)",
    ]
    assert "Traceback" not in proc.stderr
    assert pipeline.fanin_missing == {
        "experiment_id": pipeline.experiment_id,
        "shards": {"expected": 3, "completed": 2, "failed": 0, "missing": 1,
                   "completed_ids": ["shard-00000", "shard-00001"], "failures": [],
                   "missing_ids": ["shard-00002"]},
        "runs": {"expected": 60, "completed": 40, "failed": 0, "missing": 20},
    }


def test_finalize_writes_fanin_and_summary_once_every_shard_is_there(pipeline: Pipeline):
    proc = pipeline.finalize
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{pipeline.results_uri}/summary.json\n"
    fanin = read_json(pipeline.store, pipeline.keys.fanin)
    assert fanin["shards"] == {"expected": 3, "completed": 3, "failed": 0, "missing": 0,
                               "completed_ids": pipeline.shard_ids, "failures": [], "missing_ids": []}
    assert fanin["runs"] == {"expected": 60, "completed": 60, "failed": 0, "missing": 0}
    summary = json.loads(read_complete(pipeline.store, pipeline.keys.summary))
    assert summary["runs"] == fanin["runs"]
    assert [f["id"] for f in summary["folds"]] == [f"wf-{k:03d}" for k in range(5)]
    assert [row["fold"] for row in summary["walk_forward"]["folds"]] == [f"wf-{k:03d}" for k in range(5)]


# -- validate ---------------------------------------------------------------------------------------


@pytest.fixture
def golden(pipeline: Pipeline, tmp_path: Path) -> Path:
    out = tmp_path / "golden"
    out.mkdir()
    (out / "summary.json").write_bytes(read_complete(pipeline.store, pipeline.keys.summary))
    return out


def test_validate_against_matching_golden_files_exits_0(pipeline: Pipeline, golden: Path):
    proc = cli("validate", "--results", pipeline.results_uri, "--golden", str(golden))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"validate: summary.json match {golden}\n"


def test_validate_names_each_difference_by_its_json_path_and_exits_3(pipeline: Pipeline, golden: Path):
    doc = json.loads((golden / "summary.json").read_text())
    sharpe = doc["folds"][1]["leaderboard"][0]["in_sample"]["sharpe"]
    doc["folds"][1]["leaderboard"][0]["in_sample"]["sharpe"] = sharpe * (1 + 1e-9)  # beyond 1e-12 relative
    doc["runs"]["completed"] = 59
    (golden / "summary.json").write_text(json.dumps(doc))
    proc = cli("validate", "--results", pipeline.results_uri, "--golden", str(golden))
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert problem_lines(proc.stderr) == [
        f"summary.json: folds[1].leaderboard[0].in_sample.sharpe: expected {sharpe * (1 + 1e-9)!r}, "
        f"got {sharpe!r} (tolerance rel 1e-12)",
        "summary.json: runs.completed: expected 59, got 60 (exact)",
        f"validate: 2 difference(s) from {golden}",
    ]


# -- bad input: exit 2, one line, no traceback ------------------------------------------------------


def _bad_config(pipeline: Pipeline) -> list[str]:
    cfg = json.loads(pipeline.config.read_text())
    cfg["shards"]["run_per_shard"] = 5
    path = pipeline.tmp / "bad.json"
    path.write_text(json.dumps(cfg))
    return ["plan", "--config", str(path)]


BAD_INPUTS = {
    "unknown config key": (
        _bad_config,
        lambda p: [f"{p.tmp}/bad.json: shards.run_per_shard: unknown key (did you mean 'runs_per_shard'?)"]),
    "unknown shard": (
        lambda p: ["run-shard", "--store", p.store.uri, "--experiment", p.experiment_id, "--shard", "shard-00042"],
        lambda p: [f"experiment '{p.experiment_id}': no shard 'shard-00042' (expected one of shard-00000 .. "
                   "shard-00002)"]),
    "unknown experiment": (
        lambda p: ["finalize", "--store", p.store.uri, "--experiment", "nope-000000000000"],
        lambda p: [f"{p.store.uri}: experiment 'nope-000000000000': no plan at "
                   "experiments/nope-000000000000/plan.json (run 'plan' first)"]),
    "unsupported store": (
        lambda p: ["run-shard", "--store", "ftp://host/x", "--experiment", p.experiment_id, "--shard", "shard-00000"],
        lambda p: ["store: unsupported URI 'ftp://host/x' (expected a path, file://, s3://bucket/prefix or memory://)"]),
    "no golden folder": (
        lambda p: ["validate", "--results", p.results_uri, "--golden", str(p.tmp / "nowhere")],
        lambda p: [f"{p.tmp}/nowhere: golden folder not found"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_no_traceback(pipeline: Pipeline, case: str):
    argv, expected = BAD_INPUTS[case]
    proc = cli(*argv(pipeline))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert problem_lines(proc.stderr) == expected(pipeline)


def test_no_step_left_a_temporary_file_behind(pipeline: Pipeline):
    root = Path(pipeline.store.uri.removeprefix("file://"))
    assert [p for p in root.rglob("*") if p.name.startswith(".trstore-tmp-")] == []
