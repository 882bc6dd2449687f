"""JSON-lines logs from real subprocesses: every line parses and carries the experiment, shard and run ids."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from tests.report_support import cli, experiment_config, experiment_id_of, run_main


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    cfg = experiment_config(d, name="logs", params={"fast": [10, 20, 30, 40], "slow": [60]},
                            validation={"kind": "full"}, runs_per_shard=3)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert run_main("plan", "--config", str(cfg), "--store", str(d / "store"), "-q") == 0
    exp = experiment_id_of(err.getvalue())
    plan = json.loads((d / "store" / "experiments" / exp / "plan.json").read_text())
    return d / "store", exp, plan


def json_lines(stderr: str) -> list[dict]:
    lines = stderr.splitlines()
    assert lines, "no log lines"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_run_shard_lines_carry_experiment_shard_and_run(planned):
    store, exp, plan = planned
    # no --log-format: stderr is a pipe here, so JSON is the default
    proc = cli("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00000",
               "--progress-every", "1", "--progress-seconds", "3600")
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stderr)
    assert {r["experiment"] for r in records} == {exp}
    assert {r["shard"] for r in records} == {"shard-00000"}
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    progress = [r for r in records if r["message"].startswith("progress ")]
    run_ids = plan["shards"][0]["run_ids"]
    assert [r["run"] for r in progress] == run_ids  # one line per run (every 1), each naming its run
    assert [(r["done"], r["total"], r["unit"]) for r in progress] == [(i + 1, 3, "runs") for i in range(3)]
    assert records[0]["message"] == "run-shard shard-00000: 3 runs"
    assert records[-1]["message"].startswith("shard shard-00000 complete: 3 runs in ")


def test_progress_lines_every_n_runs_and_finalize_lines_carry_the_experiment(planned):
    store, exp, _ = planned
    proc = cli("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00000",
               "--log-format", "json", env={"TRADING_RUNTIME_PROGRESS_EVERY": "2",
                                            "TRADING_RUNTIME_PROGRESS_SECONDS": "3600"})
    assert proc.returncode == 0, proc.stderr
    done = [r["done"] for r in json_lines(proc.stderr) if r["message"].startswith("progress ")]
    assert done == [2, 3]  # every 2 runs, and always the last
    proc = cli("finalize", "--store", str(store), "--experiment", exp, "--log-format", "json")
    assert proc.returncode == 3  # shard-00001 never ran
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert records and all(r["experiment"] == exp and r["step"] == "finalize" for r in records)
    assert "shard shard-00001: missing (no completion marker)" in proc.stderr
