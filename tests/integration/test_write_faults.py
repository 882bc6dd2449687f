"""The fault suite of replace-safe writes (issue 10, bug 1): a study survives a kill -9 at every step of
a write of its storage, and an S3 outage (HTTP 503) of each key kind, and then every later ``optimize``,
``optimize status`` and ``optimize init`` works and the results are byte-identical to an uninterrupted run.

- kill: ``tests/fault_child.py`` runs the CLI and SIGKILLs itself just before the N-th store write
  (put or delete) of the study's journal (see optimize/storage.py) — every one of them: in the local
  all-in-one the base (init) and the told object its end stores (asks and tells stay in memory in
  between), each one sealed put (no marker: the object is complete once it exists); in the cluster's
  steps (``optimize ask``/``tell`` in separate processes) each generation's asked object and told
  object; before each write of a plan, while the all-in-one holds asked or told generations that
  are not stored (a generation's plan is one sealed put, the best trial's a payload and its marker); and
  a cluster ask between its asked object and its plan;
- 503: the requests of one key kind go through the proxy of tests/s3_server.py, which answers 503
  instead of forwarding them, with one attempt per request (exit 75, what Argo retries).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.experiment_support import problem_lines
from tests.optimize_support import cli, results, small_config, write_json
from tests.s3_server import HoldingProxy, unique_name
from trading_runtime.errors import EXIT_TRANSIENT
from trading_runtime.optimize.storage import forget_cached_storages
from trading_runtime.optimize.study import read_manifest, stored_study
from trading_runtime.store import open_store

pytestmark = pytest.mark.slow

JOURNAL = "storage/journal"
# Every write of the journal's objects by the all-in-one (see the module docstring): its 2 generations are
# told in memory, and stored at its end as one told object (generations 0-1). Each is one sealed put.
JOURNAL_WRITES = ["journal.v2.log", "journal/g0001.told.v2.log"]
KILL_POINTS = range(1, len(JOURNAL_WRITES) + 1)
# Plan writes of the all-in-one: generation 0's and 1's (each one sealed put), then the best trial's (payload, marker).
PLAN_WRITES = ["g0000/plan.v2.json", "g0001/plan.v2.json", "best/plan.json", "best/plan.json.SUCCESS"]
PLAN_KILL_POINTS = range(1, len(PLAN_WRITES) + 1)
# The cluster's steps: (step, generation, kill before its N-th journal write: its one object).
STEP_KILLS = [(step, g, n) for g in ("0000", "0001") for step in ("ask", "tell") for n in (1,)]


def tiny_config() -> dict[str, object]:
    """4 trials in 2 generations on one day of bars: every write kind, in about a second."""
    cfg = small_config(n_trials=4, batch_size=2)
    cfg["data"]["end"] = "2024-01-02T00:00:00Z"  # type: ignore[index]
    return cfg


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_json(tmp_path_factory.mktemp("faults") / "tiny.json", tiny_config())


@pytest.fixture(scope="module")
def reference(config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, bytes], Path]:
    """(study id, result files, store) of the uninterrupted run."""
    store = tmp_path_factory.mktemp("reference") / "store"
    code, out, err = cli("optimize", "--config", str(config_path), "--store", str(store), "--workers", "1")
    assert code == 0, err
    study = out.strip().rstrip("/").split("/")[-2]
    return study, results(store, study), store


def stored_trials(store: Path, study: str) -> list[tuple[object, ...]]:
    """The study's trials as its stored journal replays them (what the next generation's sampler sees)."""
    local = open_store(str(store))
    with stored_study(local, read_manifest(local, study)) as s:
        return [(t.number, t.state, t.params, t.values, t.user_attrs, t.system_attrs) for t in s.get_trials()]


def recover(config_path: Path, store: str, study: str, created: bool = True) -> None:
    """status, init and the all-in-one each succeed on the store left behind by the fault (status says
    "run 'optimize init' first" while the fault came before the study was created: its manifest is last)."""
    forget_cached_storages()
    code, out, err = cli("optimize", "status", "--store", store, "--study", study)
    if created:
        assert code == 0, problem_lines(err)
        assert out.strip() in ("0000", "0001", "done")
    else:
        assert code == 2
        assert problem_lines(err)[0].endswith("(run 'optimize init' first)")
    code, out, err = cli("optimize", "init", "--config", str(config_path), "--store", store)
    assert (code, out) == (0, study + "\n"), problem_lines(err)
    code, out, err = cli("optimize", "status", "--store", store, "--study", study)
    assert code == 0, problem_lines(err)
    code, _, err = cli("optimize", "--config", str(config_path), "--store", store, "--workers", "1")
    assert code == 0, problem_lines(err)


def test_the_journal_writes_are_the_ones_the_kill_points_aim_at(config_path, tmp_path):
    log = tmp_path / "writes.log"
    child = _child(config_path, tmp_path / "store", FAULT_LOG=str(log))
    assert child.returncode == 0, child.stderr
    steps = [line.split(" ", 1)[0] + " " + line.split("/storage/", 1)[1] for line in log.read_text().splitlines()]
    assert steps == [f"put {key}" for key in JOURNAL_WRITES]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_kill_at_any_step_of_a_journal_write_loses_nothing(config_path, reference, tmp_path, kill_at):
    study, expected, reference_store = reference
    store = tmp_path / "store"
    child = _child(config_path, store, FAULT_KILL_AT=str(kill_at))
    assert child.returncode == -9, child.stderr
    recover(config_path, str(store), study, created=kill_at > 1)
    assert results(store, study) == expected
    assert not [p for p in store.rglob("*") if ".staged-" in p.name or p.name.startswith(".trstore-tmp-")]
    forget_cached_storages()
    assert stored_trials(store, study) == stored_trials(reference_store, study)


@pytest.mark.parametrize(("step", "generation", "kill_at"), STEP_KILLS)
def test_a_kill_at_any_journal_write_of_the_cluster_steps_loses_nothing(config_path, reference, tmp_path, step,
                                                                        generation, kill_at):
    """init, then per generation ask → run-shard → tell as separate steps; the chosen step is killed before its
    N-th journal write and run again; the other steps run in this process (whose opened storage must notice
    what the killed process left, or did not leave)."""
    study, expected, reference_store = reference
    store = str(tmp_path / "store")
    assert cli("optimize", "init", "--config", str(config_path), "--store", store)[0] == 0
    writes: dict[str, list[str]] = {}
    for g in ("0000", "0001"):
        for name in ("ask", "tell"):
            args = ["optimize", name, "--store", store, "--study", study, "--generation", g]
            if (name, g) == (step, generation):
                log = tmp_path / "writes.log"
                killed = _run_child(args, FAULT_KILL_AT=str(kill_at), FAULT_LOG=str(log))
                assert killed.returncode == -9, killed.stderr
                writes[name] = log.read_text().splitlines()
                code, out, err = cli("optimize", "status", "--store", store, "--study", study)
                assert (code, out) == (0, f"{g}\n"), problem_lines(err)
            code, out, err = cli(*args)
            assert code == 0, problem_lines(err)
            if name == "ask":
                for shard in json.loads(out):
                    code, _, err = cli("run-shard", "--store", store, "--experiment", f"{study}.g{g}", "--shard", shard)
                    assert code == 0, problem_lines(err)
    written = f"journal/g{generation}.{'asked' if step == 'ask' else 'told'}.v2.log"
    assert [w.split(" ", 1)[0] + " " + w.split("/storage/", 1)[1] for w in writes[step]] == [f"put {written}"]
    code, _, err = cli("optimize", "finalize", "--store", store, "--study", study)
    assert code == 0, problem_lines(err)
    assert results(Path(store), study) == expected
    assert not [p for p in Path(store).rglob("*") if ".staged-" in p.name or p.name.startswith(".trstore-tmp-")]
    forget_cached_storages()
    assert stored_trials(Path(store), study) == stored_trials(reference_store, study)


@pytest.mark.parametrize("kill_at", PLAN_KILL_POINTS)
def test_a_kill_while_generations_are_held_in_memory_loses_nothing(config_path, reference, tmp_path, kill_at):
    study, expected, reference_store = reference
    store = tmp_path / "store"
    log = tmp_path / "writes.log"
    child = _child(config_path, store, FAULT_KEY="/plan.", FAULT_KILL_AT=str(kill_at), FAULT_LOG=str(log))
    assert child.returncode == -9, child.stderr
    killed_before = log.read_text().splitlines()[-1].split("experiments/", 1)[1]
    assert killed_before == f"{study}.{PLAN_WRITES[kill_at - 1]}"
    recover(config_path, str(store), study)
    assert results(store, study) == expected
    forget_cached_storages()
    assert stored_trials(store, study) == stored_trials(reference_store, study)


@pytest.mark.parametrize("generation", ["0000", "0001"])
def test_a_cluster_ask_killed_before_its_plan_is_stored_is_asked_again_identically(config_path, reference, tmp_path,
                                                                                  generation):
    """A cluster ask stores its asked object, then its plan (one sealed put): killed in between, the generation
    is asked but has no plan; the ask run again gives the same trials and writes the plan."""
    study, expected, reference_store = reference
    store = str(tmp_path / "store")
    assert cli("optimize", "init", "--config", str(config_path), "--store", store)[0] == 0
    for g in ("0000", "0001"):
        for name in ("ask", "tell"):
            args = ["optimize", name, "--store", store, "--study", study, "--generation", g]
            if (name, g) == ("ask", generation):
                log = tmp_path / "writes.log"
                killed = _run_child(args, FAULT_KEY="/plan.", FAULT_KILL_AT="1", FAULT_LOG=str(log))
                assert killed.returncode == -9, killed.stderr
                assert log.read_text() == f"put experiments/{study}.g{g}/plan.v2.json\n"
                assert not list(Path(store).glob(f"experiments/{study}.g{g}/plan*"))
                code, _, err = cli("optimize", "tell", "--store", store, "--study", study, "--generation", g)
                assert code == 2 and problem_lines(err)[-1].endswith(
                    f"generation {g} has no plan (run 'optimize ask --generation {g}' first)"), err
            code, out, err = cli(*args)
            assert code == 0, problem_lines(err)
            if name == "ask":
                for shard in json.loads(out):
                    code, _, err = cli("run-shard", "--store", store, "--experiment", f"{study}.g{g}", "--shard", shard)
                    assert code == 0, problem_lines(err)
    code, _, err = cli("optimize", "finalize", "--store", store, "--study", study)
    assert code == 0, problem_lines(err)
    assert results(Path(store), study) == expected
    forget_cached_storages()
    assert stored_trials(Path(store), study) == stored_trials(reference_store, study)


def _child(config_path: Path, store: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return _run_child(["optimize", "--config", str(config_path), "--store", str(store), "--workers", "1"], **env)


def _run_child(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.fault_child", "--log-format", "json", *args],
                          cwd=ROOT, env={**os.environ, "FAULT_KEY": JOURNAL} | env, capture_output=True, text=True,
                          timeout=300, check=False)


# -- S3: 503 on one key kind -------------------------------------------------------------------------

# (method, text in the key): a generation's told journal object, a generation plan (sealed), the best trial's plan,
# its marker, a shard result, and reads of the journal (the all-in-one writes no asked object; journal objects have
# no marker).
OUTAGES = [("PUT", ".told.v2.log"), ("PUT", "/plan.v2.json"), ("PUT", "/plan.json"), ("PUT", "/plan.json.SUCCESS"),
           ("PUT", "/result.json"), ("GET", JOURNAL)]


@pytest.mark.s3
@pytest.mark.parametrize(("method", "pattern"), OUTAGES, ids=[f"{m}-{p.rsplit('/', 1)[-1]}" for m, p in OUTAGES])
def test_an_s3_outage_of_one_key_kind_exits_75_and_the_rerun_gives_the_same_results(
        config_path, reference, s3_proxy: HoldingProxy, s3_bucket, monkeypatch, request, method, pattern):
    study, expected, _ = reference
    uri = f"s3://{s3_bucket}/faults/{unique_name(request)}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_proxy.endpoint)
    monkeypatch.setenv("TRADING_RUNTIME_S3_MAX_ATTEMPTS", "1")
    code, out, err = cli("optimize", "init", "--config", str(config_path), "--store", uri)
    assert (code, out) == (0, study + "\n"), problem_lines(err)
    s3_proxy.fail(method, pattern)
    forget_cached_storages()
    code, _, err = cli("optimize", "--config", str(config_path), "--store", uri, "--workers", "1")
    assert code == EXIT_TRANSIENT, problem_lines(err)
    assert s3_proxy.failed, "the outage never hit a request"
    assert any("503" in line or "ServiceUnavailable" in line for line in problem_lines(err))
    s3_proxy.fail_none()
    recover(config_path, uri, study)
    store = open_store(uri)
    folder = f"optimize/{study}/results/"
    got = {key[len(folder):]: store.get_bytes(key) for key in store.list_keys(folder)
           if key.endswith(".json")}
    assert got == expected
    assert not [key for key in store.list_keys(f"optimize/{study}/") if ".staged-" in key]
