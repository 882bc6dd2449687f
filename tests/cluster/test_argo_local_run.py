"""The backtest and optuna WorkflowTemplates executed locally (tests/cluster/argo_local_run.LocalArgoRun).

The DAG and steps are walked in dependency order with Argo's parameter substitution, withParam
expanded from the previous step's stdout, the optuna generations by the template's own recursion,
each container command run as its own local process against a local store, retries where the
retryStrategy expression says (exit 75, a lost pod), fan-in after failed shards, and the exit
handler; the final results must equal the golden ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.argo_local_run import LocalArgoRun, PodLost, run_cli_forked, run_cli_subprocess
from tests.cluster.argo_manifests import ROOT, load_manifests
from tests.golden.golden_files import GOLDEN
from trading_runtime.golden.compare import compare
from trading_runtime.store import open_store, read_complete

pytestmark = pytest.mark.slow

DOCS = load_manifests()
SMOKE = DOCS["run-smoke.yaml"]["spec"]["arguments"]["parameters"]
SMOKE_GOLDEN = next(p["value"] for p in SMOKE if p["name"] == "golden")
DIGEST = "sha256:" + "0" * 64
OPTUNA_NAMES = ["best_parameters.json", "metadata.json", "optimization_history.json", "param_importances.json",
                "performance_metrics.json"]


def golden_docs(case: str) -> dict[str, Any]:
    folder = GOLDEN / case / "expected"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def status_record(store: Path, workflow: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(read_complete(open_store(str(store)), f"workflows/{workflow}/status.json"))
    return doc


def test_smoke_launcher_validates_against_the_golden_case_shipped_in_the_image():
    assert SMOKE_GOLDEN == "tests/golden/cases/sweep_walk_forward/expected"
    assert (ROOT / SMOKE_GOLDEN / "summary.json").is_file()


def test_backtest_template_runs_locally_and_matches_golden(tmp_path):
    store = tmp_path / "store"
    failed_once: set[str] = set()

    def flaky(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
        # The first run-shard attempt dies of a transient error (exit 75), the second shard's first
        # pod is deleted (no exit code: -1, Error): Argo retries both.
        if argv[0] == "run-shard" and argv[-1] not in failed_once and len(failed_once) < 2:
            failed_once.add(argv[-1])
            if len(failed_once) == 2:
                raise PodLost("pod deleted")
            return 75, "", "store: S3 unavailable (transient)"
        return run_cli_forked(argv, cwd, env)

    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"],
                       {"digest": DIGEST, "store": str(store), "golden": SMOKE_GOLDEN},
                       ROOT, tmp_path / "pods", runner=flaky, parallelism=1, workflow_name="smoke-1")
    assert run.run() == "Succeeded"
    by_template: dict[str, list[Any]] = {}
    for node in run.nodes:
        by_template.setdefault(node.template, []).append(node)
    assert {k: len(v) for k, v in by_template.items()} == {
        "plan": 1, "run-shard": 9, "finalize": 1, "validate": 1, "record-status": 1}
    assert [n.attempts for n in by_template["run-shard"]] == [2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert by_template["validate"][0].stdout == f"validate: summary.json match {SMOKE_GOLDEN}\n"
    experiment = by_template["plan"][0].stdout and json.loads(by_template["plan"][0].stdout)
    assert experiment == [f"shard-{i:05d}" for i in range(9)]
    experiment_id = by_template["finalize"][0].stdout.strip().split("/")[-2]
    summary = json.loads(read_complete(open_store(str(store)), f"experiments/{experiment_id}/summary.json"))
    assert compare(golden_docs("sweep_walk_forward")["summary.json"], summary) == []
    record = status_record(store, "smoke-1")
    assert (record["status"], record["details"]["template"]) == ("Succeeded", "trading-runtime-backtest")


def test_optuna_template_recurses_through_the_generations_and_matches_golden(tmp_path):
    store = tmp_path / "store"
    run = LocalArgoRun(DOCS["workflowtemplate-optuna.yaml"], {"digest": DIGEST, "store": str(store)},
                       ROOT, tmp_path / "pods", runner=run_cli_forked, parallelism=1, workflow_name="optuna-1")
    assert run.run() == "Succeeded"
    templates = [n.template for n in run.nodes]
    assert templates[:2] == ["init", "status"]
    assert templates.count("ask") == templates.count("tell") == 5  # 40 trials in generations of 8
    tells = [n.stdout.strip() for n in run.nodes if n.template == "tell"]
    assert tells == ["0001", "0002", "0003", "0004", "done"]
    assert templates[-2:] == ["finalize", "record-status"]
    study = run.nodes[0].stdout.strip()
    results = open_store(str(store))
    expected = golden_docs("optuna_example")
    assert sorted(expected) == OPTUNA_NAMES
    for name in OPTUNA_NAMES:
        doc = json.loads(read_complete(results, f"optimize/{study}/results/{name}"))
        if name == "metadata.json":  # provenance names this checkout's commits: metadata, never golden
            doc.pop("provenance")
        assert compare(expected[name], doc) == [], name
    assert status_record(store, "optuna-1")["status"] == "Succeeded"


def test_a_failing_step_is_not_retried_and_the_exit_handler_records_failure(tmp_path):
    # The real console entry (python -m trading_runtime in a subprocess) for every pod here.
    store = tmp_path / "store"
    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"],
                       {"digest": DIGEST, "store": str(store), "config": "no/such/config.json"},
                       ROOT, tmp_path / "pods", runner=run_cli_subprocess, workflow_name="broken-1")
    assert run.run() == "Failed"
    assert [(n.template, n.exit_code, n.attempts) for n in run.nodes] == [("plan", 2, 1), ("record-status", 0, 1)]
    assert "no/such/config.json" in run.nodes[0].stderr
    assert "Traceback" not in run.nodes[0].stderr
    record = status_record(store, "broken-1")
    assert (record["status"], record["details"]["config"]) == ("Failed", "no/such/config.json")


def test_a_failed_shard_still_runs_finalize_which_names_it_and_fails_the_workflow(tmp_path):
    store = tmp_path / "store"

    def one_bad_shard(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
        if argv[0] == "run-shard" and argv[-1] == "shard-00003":
            return 1, "", "a bug in shard 3 (exit 1: not retried)"
        return run_cli_forked(argv, cwd, env)

    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"],
                       {"digest": DIGEST, "store": str(store), "golden": SMOKE_GOLDEN},
                       ROOT, tmp_path / "pods", runner=one_bad_shard, parallelism=1, workflow_name="bad-1")
    assert run.run() == "Failed"
    ran = [(n.template, n.exit_code, n.attempts) for n in run.nodes if n.template != "run-shard"]
    assert ran == [("plan", 0, 1), ("finalize", 3, 1), ("record-status", 0, 1)]  # validate: Omitted
    assert [n.phase for n in run.nodes if n.template == "run-shard"].count("Failed") == 1
    finalize = next(n for n in run.nodes if n.template == "finalize")
    assert "shard-00003" in finalize.stderr
    assert status_record(store, "bad-1")["status"] == "Failed"


def test_a_staged_config_runs_through_the_backtest_template_from_an_empty_working_directory(tmp_path):
    """The user's own experiment: `stage` puts config and data into the store, the template's `config`
    parameter takes the printed URI, and the pods (working directory empty: nothing from the image's
    examples can be read) produce the golden summary, validated by the template's own validate step
    against a golden folder the test copies in."""
    import shutil
    import subprocess
    import sys

    store = tmp_path / "store"
    staged = subprocess.run(
        [sys.executable, "-m", "trading_runtime", "stage", "--config", "trading_runtime/local/sweep.json",
         "--store", str(store)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert staged.returncode == 0, staged.stderr
    config_uri = staged.stdout.strip().splitlines()[-1]
    assert config_uri.startswith("file://") or config_uri.startswith(str(store)), config_uri
    workdir = tmp_path / "pod-workdir"
    shutil.copytree(ROOT / SMOKE_GOLDEN, workdir / "golden")
    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"],
                       {"digest": DIGEST, "store": str(store), "config": config_uri, "golden": "golden"},
                       workdir, tmp_path / "pods", runner=run_cli_forked, parallelism=1, workflow_name="staged-1")
    assert run.run() == "Succeeded"
    validate = next(n for n in run.nodes if n.template == "validate")
    assert validate.stdout == "validate: summary.json match golden\n"
    assert sorted(p.name for p in workdir.iterdir()) == ["golden"]


def test_a_universe_experiment_runs_through_the_backtest_template_with_the_local_sweeps_summary(tmp_path):
    """Issue 12 §4: the instrument is a plan dimension; the template's plan → run-shard fan-out → finalize runs
    a universe unchanged (each shard pod loads only its instruments), and summary.json is byte for byte the
    local sweep's, at another shard size and worker count."""
    from tests.experiment_support import experiment_config, summary_bytes, write_json
    from tests.universe_support import write_universe
    from trading_runtime.cli.main import main

    write_universe(tmp_path / "bars")
    cfg = experiment_config(data={"path": None, "end": None, "instruments": str(tmp_path / "bars" / "*.csv")},
                            sweep={"kind": "grid", "params": {"fast": [5, 20], "slow": [60, 120]}},
                            validation={"kind": "holdout", "test_fraction": 0.3}, shards={"runs_per_shard": 4})
    config = write_json(tmp_path / "universe.json", cfg)
    store = tmp_path / "store"
    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"], {"digest": DIGEST, "store": str(store),
                                                                "config": str(config)},
                       ROOT, tmp_path / "pods", runner=run_cli_forked, parallelism=2, workflow_name="universe-1")
    assert run.run() == "Succeeded"
    assert [n.template for n in run.nodes].count("run-shard") == 3  # 12 runs = 3 instruments × 4 sets, 4 a shard
    experiment_id = next(n for n in run.nodes if n.template == "finalize").stdout.strip().split("/")[-2]
    argo_summary = summary_bytes(open_store(str(store)), experiment_id)
    local = write_json(tmp_path / "local.json", {**cfg, "shards": {"runs_per_shard": 5}})
    assert main(["sweep", "--config", str(local), "--store", str(tmp_path / "local"), "--workers", "2",
                 "--log-format", "json", "-q"]) == 0
    assert summary_bytes(open_store(str(tmp_path / "local")), experiment_id) == argo_summary
    assert [i["symbol"] for i in json.loads(argo_summary)["universe"]["instruments"]] == ["AAA", "BBB", "CCC"]


def test_a_staged_universe_runs_through_the_backtest_template_with_the_local_sweeps_summary(tmp_path):
    """`stage` over a universe (a glob): each instrument's file in the store, the staged config naming them;
    the template's pods, in an empty working directory, plan the local config's experiment and write its
    summary.json byte for byte."""
    import subprocess
    import sys

    from tests.experiment_support import experiment_config, summary_bytes, write_json
    from tests.universe_support import write_universe
    from trading_runtime.cli.main import main

    write_universe(tmp_path / "bars")
    cfg = experiment_config(data={"path": None, "end": None, "instruments": str(tmp_path / "bars" / "*.csv")},
                            sweep={"kind": "grid", "params": {"fast": [5, 20], "slow": [60, 120]}},
                            validation={"kind": "holdout", "test_fraction": 0.3}, shards={"runs_per_shard": 4})
    config = write_json(tmp_path / "universe.json", cfg)
    store = tmp_path / "store"
    staged = subprocess.run([sys.executable, "-m", "trading_runtime", "stage", "--config", str(config), "--store",
                             str(store)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert staged.returncode == 0, staged.stderr
    workdir = tmp_path / "pod-workdir"
    workdir.mkdir()
    run = LocalArgoRun(DOCS["workflowtemplate-backtest.yaml"], {"digest": DIGEST, "store": str(store),
                                                                "config": staged.stdout.strip().splitlines()[-1]},
                       workdir, tmp_path / "pods", runner=run_cli_forked, parallelism=2, workflow_name="staged-u")
    assert run.run() == "Succeeded"
    experiment_id = next(n for n in run.nodes if n.template == "finalize").stdout.strip().split("/")[-2]
    assert main(["sweep", "--config", str(config), "--store", str(tmp_path / "local"), "--workers", "1",
                 "--log-format", "json", "-q"]) == 0
    assert summary_bytes(open_store(str(tmp_path / "local")), experiment_id) == summary_bytes(
        open_store(str(store)), experiment_id)
    assert list(workdir.iterdir()) == []


def test_a_universe_study_runs_through_the_optuna_template_with_the_local_searchs_results(tmp_path):
    """The Optuna template's generations over a universe (a trial = every instrument): the same result documents
    as the local all-in-one search at another shard size and worker count."""
    from tests.optimize_support import cli, results, small_config, write_json
    from tests.universe_support import write_universe

    write_universe(tmp_path / "bars")
    cfg = small_config()
    cfg["id"] = "sma-universe"
    cfg["data"] = {"instruments": str(tmp_path / "bars" / "*.csv")}
    cfg["sweep"].update({"n_trials": 4, "batch_size": 2})
    cfg["objective"] = {"aggregate": "median"}
    cfg["shards"] = {"runs_per_shard": 2}
    config = write_json(tmp_path / "universe.json", cfg)
    run = LocalArgoRun(DOCS["workflowtemplate-optuna.yaml"], {"digest": DIGEST, "store": str(tmp_path / "store"),
                                                              "config": str(config)},
                       ROOT, tmp_path / "pods", runner=run_cli_forked, parallelism=2, workflow_name="optuna-u")
    assert run.run() == "Succeeded"
    assert [n.template for n in run.nodes].count("run-shard") == 6  # 2 generations × 2 trials × 3 instruments / 2
    study = run.nodes[0].stdout.strip()
    argo = results(tmp_path / "store", study)
    local = write_json(tmp_path / "local.json", {**cfg, "shards": {"runs_per_shard": 5}})
    code, _, err = cli("optimize", "--config", str(local), "--store", str(tmp_path / "local"), "--workers", "2")
    assert code == 0, err
    assert results(tmp_path / "local", study) == argo
    assert json.loads(argo["performance_metrics.json"])["selection_statistics"]["n_trials"] == 12
