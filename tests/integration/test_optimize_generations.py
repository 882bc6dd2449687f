"""Generation mode end to end on the synthetic bars: CLI steps, resume, workers, shard sizes, seeds."""

from __future__ import annotations

import json

import pytest

from tests.optimize_support import cli, cli_subprocess, results, small_config, write_json
from trading_runtime.optimize.storage import forget_cached_storages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The small search run uninterrupted by the all-in-one, in process, one worker."""
    tmp = tmp_path_factory.mktemp("baseline")
    config = write_json(tmp / "config.json", small_config())
    code, out, err = cli("optimize", "--config", str(config), "--store", str(tmp / "store"), "--workers", "1")
    assert code == 0, err
    study = out.strip().rstrip("/").split("/")[-2]
    docs = results(tmp / "store", study)
    assert sorted(docs) == ["best_parameters.json", "metadata.json", "optimization_history.json",
                            "param_importances.json", "performance_metrics.json"]
    return study, docs, tmp / "store"


def test_the_cli_steps_in_separate_processes_give_the_all_in_ones_results(tmp_path):
    cfg = small_config(n_trials=4)
    config = write_json(tmp_path / "config.json", cfg)
    store = str(tmp_path / "steps")
    proc = cli_subprocess("optimize", "init", "--config", str(config), "--store", store)
    assert proc.returncode == 0, proc.stderr
    study = proc.stdout.strip()
    assert study.startswith("sma-small-") and "\n" not in study
    assert cli_subprocess("optimize", "status", "--store", store, "--study", study).stdout == "0000\n"
    nxt = "0000"
    seen = []
    while nxt != "done":
        proc = cli_subprocess("optimize", "ask", "--store", store, "--study", study, "--generation", nxt)
        assert proc.returncode == 0, proc.stderr
        shards = json.loads(proc.stdout)
        assert shards == ["shard-00000"]
        for shard in shards:
            run = cli_subprocess("run-shard", "--store", store, "--experiment", f"{study}.g{nxt}", "--shard", shard)
            assert run.returncode == 0, run.stderr
        proc = cli_subprocess("optimize", "tell", "--store", store, "--study", study, "--generation", nxt)
        assert proc.returncode == 0, proc.stderr
        seen.append(nxt)
        nxt = proc.stdout.strip()
    assert seen == ["0000", "0001"]
    proc = cli_subprocess("optimize", "finalize", "--store", store, "--study", study)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{(tmp_path / 'steps').as_uri()}/optimize/{study}/results/\n"

    code, _, err = cli("optimize", "run", "--config", str(config), "--store", str(tmp_path / "one"), "--workers", "1")
    assert code == 0, err
    assert results(tmp_path / "steps", study) == results(tmp_path / "one", study)


def test_an_interrupted_search_resumes_to_byte_identical_results(tmp_path, baseline):
    study, expected, _ = baseline
    config = write_json(tmp_path / "config.json", small_config())
    store = str(tmp_path / "store")
    code, out, err = cli("optimize", "--config", str(config), "--store", store, "--workers", "1",
                         "--max-generations", "2")
    assert code == 0, err
    assert out == ""
    assert "stopped after 2 generation(s) with 0002 next; rerun to continue" in err
    assert cli("optimize", "status", "--store", store, "--study", study)[1] == "0002\n"
    # interim results of the told trials
    code, out, err = cli("optimize", "finalize", "--store", store, "--study", study, "--partial")
    assert code == 0, err
    assert json.loads(results(tmp_path / "store", study)["metadata.json"])["counts"]["trials"] == 4
    # interrupted again in the middle of generation 2: asked, one of its shards evaluated, not told
    forget_cached_storages()
    code, out, _ = cli("optimize", "ask", "--store", store, "--study", study, "--generation", "2")
    shards = json.loads(out)
    assert len(shards) == 1
    assert cli("run-shard", "--store", store, "--experiment", f"{study}.g0002", "--shard", shards[0])[0] == 0
    forget_cached_storages()
    # resumed with another shard size: same study, same results
    cfg = small_config()
    cfg["shards"] = {"runs_per_shard": 1}
    config = write_json(tmp_path / "config.json", cfg)
    code, out, err = cli("optimize", "--config", str(config), "--store", store, "--workers", "1")
    assert code == 0, err
    assert results(tmp_path / "store", study) == expected
    # a finished search rerun only re-finalizes, identically
    code, out, err = cli("optimize", "--config", str(config), "--store", store, "--workers", "1")
    assert code == 0, err
    assert results(tmp_path / "store", study) == expected


@pytest.mark.parametrize("workers,runs_per_shard", [(2, 1), (1, 1), (1, 7)])
def test_results_do_not_depend_on_workers_or_shard_size(tmp_path, baseline, workers, runs_per_shard):
    study, expected, _ = baseline
    cfg = small_config()
    cfg["shards"] = {"runs_per_shard": runs_per_shard}
    config = write_json(tmp_path / "config.json", cfg)
    code, _, err = cli("optimize", "--config", str(config), "--store", str(tmp_path / "store"),
                       "--workers", str(workers))
    assert code == 0, err
    assert results(tmp_path / "store", study) == expected


def test_the_same_seed_reproduces_and_another_seed_changes_the_trials(tmp_path, baseline):
    study, expected, _ = baseline
    again = write_json(tmp_path / "again.json", small_config())
    assert cli("optimize", "--config", str(again), "--store", str(tmp_path / "a"), "--workers", "1")[0] == 0
    assert results(tmp_path / "a", study) == expected
    other = write_json(tmp_path / "other.json", small_config(sampler={"name": "tpe", "seed": 43}))
    code, out, err = cli("optimize", "--config", str(other), "--store", str(tmp_path / "b"), "--workers", "1")
    assert code == 0, err
    other_study = out.strip().rstrip("/").split("/")[-2]
    assert other_study != study
    mine = json.loads(expected["optimization_history.json"])["trials"]
    theirs = json.loads(results(tmp_path / "b", other_study)["optimization_history.json"])["trials"]
    assert [t["params"] for t in mine] != [t["params"] for t in theirs]


def test_tell_names_the_missing_shards_and_exits_3(tmp_path):
    cfg = small_config(n_trials=4)
    cfg["shards"] = {"runs_per_shard": 1}
    config = write_json(tmp_path / "config.json", cfg)
    store = str(tmp_path / "store")
    code, study, err = cli("optimize", "init", "--config", str(config), "--store", store)
    assert code == 0, err
    study = study.strip()
    code, out, _ = cli("optimize", "ask", "--store", store, "--study", study, "--generation", "0")
    assert json.loads(out) == ["shard-00000", "shard-00001"]
    assert cli("run-shard", "--store", store, "--experiment", f"{study}.g0000", "--shard", "shard-00001")[0] == 0
    code, out, _ = cli("optimize", "ask", "--store", store, "--study", study, "--generation", "0000",
                       "--pending-only")
    assert json.loads(out) == ["shard-00000"]
    code, out, err = cli("optimize", "tell", "--store", store, "--study", study, "--generation", "0")
    assert code == 3
    assert out == ""
    assert err.splitlines()[-2:] == [
        f"experiment {study}.g0000: 1 of 2 shards complete (0 failed, 1 missing); runs 1 of 2",
        "shard shard-00000: missing (no completion marker)"]
    code, out, err = cli("optimize", "finalize", "--store", store, "--study", study)
    assert code == 3
    assert err.splitlines()[-1] == (f"study {study}: 0 of 4 trials told; run the remaining generations "
                                    "(or finalize --partial)")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    cfg = small_config(sampler={"name": "nsga2", "seed": 1}, batch_size=1)
    config = write_json(tmp_path / "config.json", cfg)
    code, out, err = cli("optimize", "--config", str(config), "--store", str(tmp_path / "s"))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"{config}: sweep.batch_size: nsga2 needs a population (batch) of at least 2 (got 1)"
    code, out, err = cli("optimize", "ask", "--store", str(tmp_path / "s"), "--study", "nope", "--generation", "0")
    assert code == 2
    assert err.splitlines()[-1] == (f"{(tmp_path / 's').as_uri()}: study 'nope': no manifest at "
                                    "optimize/nope/study.json (run 'optimize init' first)")
    code, out, err = cli("optimize")
    assert code == 2
    assert err.splitlines()[-1] == ("optimize: give --config F (the all-in-one) or a step: init, status, ask, tell, "
                                    "finalize, worker, verify")
    code, out, err = cli("optimize", "tell", "--store", "x", "--study", "y", "--generation", "three")
    assert code == 2
    assert "argument --generation: expected a generation number such as 0003 (got 'three')" in err


def test_verify_re_evaluates_a_generation_studys_trials(baseline):
    study, _, store = baseline
    forget_cached_storages()
    code, out, err = cli("optimize", "verify", "--store", str(store), "--study", study, "--sample", "4", "--seed", "1")
    assert code == 0, err
    report = json.loads(out)
    assert (report["ok"], report["n_checked"], report["finished_trials"]) == (True, 4, 10)
