"""Faults, each against the local store and a real S3 server (moto on 127.0.0.1): a shard killed while
writing, a corrupted payload, a shard executed twice, a failing strategy, and the sweep's resume.

How a writer is killed mid-write, deterministically:

- local store: the run-shard process runs with RLIMIT_FSIZE of half the size of its result and
  SIGXFSZ at its default action (Python ignores it at start-up, so the CLI is started through a
  two-line ``-c`` that restores it, then runs ``trading_runtime`` as ``-m`` would): the kernel kills
  the process with SIGXFSZ in the middle of writing its result (a shard writes nothing else).
- S3: run-shard talks to moto through a proxy (tests/s3_server.py) that holds the PUT of the
  shard's result.json; once that request is in flight the test SIGKILLs the process.

Steps other than the killed one run through the real CLI entry (``main``) in this process.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.experiment_support import cli, cli_env, experiment_config, problem_lines, summary_bytes, write_json
from tests.s3_server import HoldingProxy, unique_name
from trading_runtime.cli.main import main
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import ArtifactStore, is_complete, open_store, read_complete

pytestmark = pytest.mark.slow

# 100 SMA pairs, all valid (fast <= 20 < 30 <= slow), on one day of bars, holdout: 2 shards of 50 runs.
# finalize derives the curves of the best run only (top_k 1): 660 + 660 bars × 16 bytes = 21,120 bytes.
FAULT_CONFIG = experiment_config(
    data={"end": "2024-01-02T00:00:00Z"},
    sweep={"kind": "grid", "params": {"fast": {"start": 2, "stop": 20, "step": 2},
                                      "slow": {"start": 30, "stop": 120, "step": 10}}},
    validation={"kind": "holdout", "test_fraction": 0.5},
    shards={"runs_per_shard": 50},
    report={"top_k": 1},
)
SPLIT = "rps-50"
VICTIM = "shard-00001"


@dataclass
class Reference:
    experiment_id: str
    summary: bytes
    store: ArtifactStore

    @property
    def keys(self) -> ExperimentKeys:
        return ExperimentKeys(self.experiment_id, SPLIT)


@dataclass
class Backend:
    name: str
    uri: str
    store: ArtifactStore
    proxy: HoldingProxy | None


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """The CLI in this process: (exit code, the stderr lines that are not JSON logs)."""
    capsys.readouterr()
    code = main([*argv, "--log-format", "json"])
    return code, problem_lines(capsys.readouterr().err)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_json(tmp_path_factory.mktemp("faults") / "faults.json", FAULT_CONFIG)


@pytest.fixture(scope="module")
def reference(config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted sweep of the experiment (local store, one worker)."""
    store_dir = tmp_path_factory.mktemp("reference") / "store"
    assert main(["sweep", "--config", str(config_path), "--store", str(store_dir), "--workers", "1", "-q"]) == 0
    store = open_store(str(store_dir))
    experiment_id = store.list_keys("experiments/")[0].split("/")[1]
    return Reference(experiment_id, summary_bytes(store, experiment_id), store)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        store = open_store(str(tmp_path / "store"))
        return Backend("local", store.uri, store, None)
    proxy = request.getfixturevalue("s3_proxy")
    bucket = request.getfixturevalue("s3_bucket")
    uri = f"s3://{bucket}/faults/{unique_name(request)}"
    return Backend("s3", uri, open_store(uri), proxy)


def snapshot(store: ArtifactStore, prefix: str) -> dict[str, bytes]:
    return {key: store.get_bytes(key) for key in store.list_keys(prefix)}


# -- a shard killed mid-write -------------------------------------------------------------------------


# ``python -m trading_runtime`` with SIGXFSZ back at its default action (terminate).
_DEFAULT_SIGXFSZ_THEN_CLI = ("import runpy, signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); "
                             "runpy.run_module('trading_runtime', run_name='__main__', alter_sys=True)")


def _kill_mid_write(backend: Backend, reference: Reference, experiment_id: str) -> int:
    """Run run-shard VICTIM in a subprocess and kill it while it writes the result; its exit status."""
    args = ["run-shard", "--store", backend.uri, "--experiment", experiment_id, "--shard", VICTIM,
            "--log-format", "json"]
    argv = [sys.executable, "-m", "trading_runtime", *args]
    if backend.proxy is None:
        limit = len(reference.store.get_bytes(reference.keys.shard_result(VICTIM))) // 2

        def limit_file_size() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        argv = [sys.executable, "-c", _DEFAULT_SIGXFSZ_THEN_CLI, *args]
        proc = subprocess.run(argv, cwd=ROOT, env=cli_env({"PYTHONDONTWRITEBYTECODE": "1"}), capture_output=True,
                              text=True, timeout=120, preexec_fn=limit_file_size, check=False)
        assert proc.returncode == -signal.SIGXFSZ, proc.stderr
        return proc.returncode
    backend.proxy.hold(f"/shards/{SPLIT}/{VICTIM}/result.json")
    env = cli_env({"AWS_ENDPOINT_URL": backend.proxy.endpoint})
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as popen:
        try:
            assert backend.proxy.held.wait(timeout=120), "run-shard never started writing its result"
            os.kill(popen.pid, signal.SIGKILL)
        finally:
            popen.wait(timeout=30)
            backend.proxy.release()
    assert popen.returncode == -signal.SIGKILL
    return popen.returncode


def test_shard_killed_mid_write_leaves_no_marker_and_a_rerun_completes(backend, reference, config_path, capsys):
    keys = reference.keys
    assert run(capsys, "plan", "--config", str(config_path), "--store", backend.uri)[0] == 0
    assert run(capsys, "run-shard", "--store", backend.uri, "--experiment", reference.experiment_id,
               "--shard", "shard-00000")[0] == 0

    _kill_mid_write(backend, reference, reference.experiment_id)

    # killed while the result was written: no result, no marker
    assert not backend.store.exists(keys.shard_result(VICTIM))
    assert not backend.store.exists(keys.shard_result(VICTIM) + ".SUCCESS")
    assert not backend.store.exists(keys.shard_failure(VICTIM))
    if backend.name == "local":  # the half-written temporary file is there, and is never a key
        shard_dir = Path(backend.uri.removeprefix("file://"), keys.shard_result(VICTIM)).parent
        assert [p.name.startswith(".trstore-tmp-") for p in shard_dir.iterdir()].count(True) == 1
        assert backend.store.list_keys(str(Path(keys.shard_result(VICTIM)).parent)) == []

    code, lines = run(capsys, "finalize", "--store", backend.uri, "--experiment", reference.experiment_id)
    assert code == 3
    assert lines == [
        f"experiment {reference.experiment_id}: 1 of 2 shards complete (0 failed, 1 missing); runs 50 of 100",
        f"shard {VICTIM}: missing (no completion marker)",
    ]
    fanin = json.loads(backend.store.get_bytes(keys.fanin))
    assert fanin["shards"]["missing_ids"] == [VICTIM]
    assert not backend.store.exists(keys.summary)

    assert run(capsys, "run-shard", "--store", backend.uri, "--experiment", reference.experiment_id,
               "--shard", VICTIM)[0] == 0
    assert run(capsys, "finalize", "--store", backend.uri, "--experiment", reference.experiment_id)[0] == 0
    assert summary_bytes(backend.store, reference.experiment_id) == reference.summary


# -- a corrupted payload ------------------------------------------------------------------------------


def _flip_one_byte(store: ArtifactStore, key: str) -> None:
    data = bytearray(store.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    store.put_bytes(key, bytes(data))


def test_corrupted_payloads_are_caught_by_their_checksums_and_resumed(backend, reference, config_path, capsys):
    keys = reference.keys
    assert run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "1")[0] == 0
    _flip_one_byte(backend.store, keys.shard_result(VICTIM))

    code, lines = run(capsys, "finalize", "--store", backend.uri, "--experiment", reference.experiment_id)
    assert code == 3
    assert lines[0] == (f"experiment {reference.experiment_id}: 1 of 2 shards complete (1 failed, 0 missing); "
                        "runs 50 of 100")
    assert lines[1].startswith(f"shard {VICTIM}: failed: corrupt result: store: artifact "
                               f"'{keys.shard_result(VICTIM)}' in {backend.store.uri} is corrupt: sha256 ")
    assert lines[1].endswith(" in marker")
    assert len(lines) == 2
    fanin = json.loads(backend.store.get_bytes(keys.fanin))
    assert [f["shard_id"] for f in fanin["shards"]["failures"]] == [VICTIM]

    # the sweep's resume trusts only what fan-in would accept: the corrupt shard runs again
    code, lines = run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "1")
    assert code == 0
    assert any(line.startswith(f"sweep {reference.experiment_id}: ran 1 shard(s), 2/2 complete") for line in lines)
    assert summary_bytes(backend.store, reference.experiment_id) == reference.summary


def test_a_corrupt_or_missing_curves_artifact_is_caught_and_finalize_restores_it(backend, reference, config_path,
                                                                                capsys):
    keys = reference.keys
    assert run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "1")[0] == 0
    results = f"{backend.store.uri.rstrip('/')}/{keys.root}"
    blob = f"{backend.store.uri.rstrip('/')}/{keys.curves_blob}"
    good = backend.store.get_bytes(keys.curves_blob)

    _flip_one_byte(backend.store, keys.curves_blob)
    code, lines = run(capsys, "report", "--results", results)
    assert code == 3
    assert len(lines) == 1 and lines[0].startswith(f"{blob}: corrupt curves blob: sha256 ")

    backend.store.delete(keys.curves_blob)
    code, lines = run(capsys, "report", "--results", results)
    assert (code, lines) == (3, [f"{blob}: curves blob missing (curves.json indexes it)"])

    _flip_one_byte(backend.store, keys.curves)
    code, lines = run(capsys, "report", "--results", results)
    assert code == 3
    assert lines[0].startswith(f"store: artifact '{keys.curves}' in {backend.store.uri} is corrupt: sha256 ")

    backend.store.delete(keys.curves + ".SUCCESS")
    code, lines = run(capsys, "report", "--results", results)
    assert code == 3
    assert lines == [f"{backend.store.uri.rstrip('/')}/{keys.curves}: missing: experiment {reference.experiment_id} "
                     f"has no derived equity curves (run 'finalize --store {backend.store.uri} --experiment "
                     f"{reference.experiment_id}' again)"]

    assert run(capsys, "finalize", "--store", backend.uri, "--experiment", reference.experiment_id)[0] == 0
    assert backend.store.get_bytes(keys.curves_blob) == good
    assert run(capsys, "report", "--results", results)[0] == 0
    assert summary_bytes(backend.store, reference.experiment_id) == reference.summary


# -- a shard executed twice ---------------------------------------------------------------------------


def test_executing_a_shard_twice_rewrites_identical_bytes(backend, reference, config_path, capsys):
    keys = reference.keys
    assert run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "1")[0] == 0
    before = snapshot(backend.store, keys.root + "/")
    assert keys.shard_result(VICTIM) + ".SUCCESS" in before
    # again, as a new process with another hash seed (a retried pod), then fan-in again
    env = {"PYTHONHASHSEED": "12345"}
    if backend.proxy is not None:
        env["AWS_ENDPOINT_URL"] = backend.proxy.endpoint
    proc = cli("run-shard", "--store", backend.uri, "--experiment", reference.experiment_id, "--shard", VICTIM,
               "--log-format", "json", env=cli_env(env))
    assert proc.returncode == 0, proc.stderr
    if backend.proxy is not None:  # it did write again
        assert any(p.endswith(f"/{VICTIM}/result.json") for p in backend.proxy.puts())
    assert run(capsys, "finalize", "--store", backend.uri, "--experiment", reference.experiment_id)[0] == 0
    after = snapshot(backend.store, keys.root + "/")
    assert sorted(after) == sorted(before)
    for key in before:
        assert after[key] == before[key], key


# -- a failing strategy ---------------------------------------------------------------------------------


def test_a_failing_strategy_records_failed_json_and_fan_in_reports_it(backend, tmp_path, capsys):
    cfg = dict(FAULT_CONFIG, id="exp-exploding",
               strategy={"class_path": "tests.experiment_strategies:ExplodingSmaCross", "params": {}})
    path = write_json(tmp_path / "exploding.json", cfg)
    allow = ("--allow-strategy-prefix", "tests.experiment_strategies")
    assert run(capsys, "plan", "--config", str(path), "--store", backend.uri, *allow)[0] == 0
    experiment_id = backend.store.list_keys("experiments/exp-exploding-")[0].split("/")[1]
    keys = ExperimentKeys(experiment_id, SPLIT)
    for shard in ("shard-00000", VICTIM):  # fast = 20 only in the second shard (runs 90..99)
        code, _ = run(capsys, "run-shard", "--store", backend.uri, "--experiment", experiment_id,
                      "--shard", shard, *allow)
        assert code == (0 if shard == "shard-00000" else 1)  # a strategy exception is a bug: exit 1

    failure = json.loads(backend.store.get_bytes(keys.shard_failure(VICTIM)))
    assert failure["shard_id"] == VICTIM
    assert failure["error"] == "RuntimeError: exploded on fast 20"
    assert "Traceback" in failure["traceback"]
    assert not backend.store.exists(keys.shard_result(VICTIM) + ".SUCCESS")

    code, lines = run(capsys, "finalize", "--store", backend.uri, "--experiment", experiment_id)
    assert code == 3
    assert lines == [
        f"experiment {experiment_id}: 1 of 2 shards complete (1 failed, 0 missing); runs 50 of 100",
        f"shard {VICTIM}: failed: RuntimeError: exploded on fast 20",
    ]
    fanin = json.loads(backend.store.get_bytes(keys.fanin))
    assert fanin["shards"]["failures"] == [{"shard_id": VICTIM, "reason": "RuntimeError: exploded on fast 20"}]
    assert fanin["runs"] == {"expected": 100, "completed": 50, "failed": 50, "missing": 0}


# -- sweep resume ---------------------------------------------------------------------------------------


def _write_stamps(backend: Backend, keys: ExperimentKeys) -> Any:
    """What identifies each stored shard file's last write: (inode, mtime) locally, nothing on S3 (the
    proxy records the writes instead)."""
    if backend.name != "local":
        return None
    root = Path(backend.uri.removeprefix("file://"))
    return {key: ((root / key).stat().st_ino, (root / key).stat().st_mtime_ns)
            for key in backend.store.list_keys(f"{keys.root}/shards/")}


def test_a_second_sweep_runs_no_shard(backend, reference, config_path, capsys, monkeypatch):
    keys = reference.keys
    assert run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "2")[0] == 0
    stamps = _write_stamps(backend, keys)
    shards_before = snapshot(backend.store, f"{keys.root}/shards/")
    if backend.proxy is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", backend.proxy.endpoint)  # record this sweep's writes
    code, lines = run(capsys, "sweep", "--config", str(config_path), "--store", backend.uri, "--workers", "2")
    assert code == 0
    assert any(line.startswith(f"sweep {reference.experiment_id}: ran 0 shard(s), 2/2 complete") for line in lines)
    assert snapshot(backend.store, f"{keys.root}/shards/") == shards_before
    if backend.proxy is None:
        assert _write_stamps(backend, keys) == stamps  # not one shard file rewritten
    else:
        assert backend.proxy.puts()  # the plan and fan-in files went through the proxy...
        assert [p for p in backend.proxy.puts() if "/shards/" in p] == []  # ...no shard file did
    assert summary_bytes(backend.store, reference.experiment_id) == reference.summary


# ``python -m trading_runtime`` whose shards (``execution.experiment.run_shard``, which every local pool
# runs) pass a gate the test controls: the first shard any worker starts runs at once; every later one
# first writes ``<gate>/waiting-<shard>`` and then blocks on a shared lock of ``<gate>/lock``, which
# the test holds exclusively until it has sent SIGINT. So the sweep is mid-run when Ctrl-C arrives,
# however fast the machine: it cannot finish before.
# The sweep as started from a terminal, whatever started the tests: a shell without job control starts its
# background jobs with SIGINT ignored (POSIX), which Python then keeps (`bash .ci/run &` made this test fail:
# the sweep never saw the Ctrl-C). The handler is Python's own, as at a start with SIGINT at its default.
_GATED_SHARDS_THEN_CLI = """
import fcntl, os, runpy, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
import trading_runtime.execution.experiment as experiment
gate, run_shard = os.environ["TR_TEST_SHARD_GATE"], experiment.run_shard
def gated_run_shard(store, plan, shard_id, inputs, *args, **kwargs):
    try:
        os.close(os.open(os.path.join(gate, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        open(os.path.join(gate, "waiting-" + shard_id), "w").close()
        with open(os.path.join(gate, "lock")) as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
    return run_shard(store, plan, shard_id, inputs, *args, **kwargs)
experiment.run_shard = gated_run_shard
runpy.run_module("trading_runtime", run_name="__main__", alter_sys=True)
"""


def _wait_for(condition: Any, proc: subprocess.Popen[str], what: str) -> None:
    """Poll a store condition while the sweep runs (a wait for a state, not a timing assumption)."""
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the sweep exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within 120 s"
        time.sleep(0.01)


def test_ctrl_c_leaves_no_half_written_shard_and_the_sweep_resumes(reference, tmp_path, capsys):
    """SIGINT to the sweep's process group (what Ctrl-C does) while two workers run two-run shards.

    Deterministic: SIGINT is sent once one shard is complete and another is in progress (held at the
    gate above); the gate opens only after the signal, so the interrupted shards finish writing.
    """
    cfg = dict(FAULT_CONFIG, shards={"runs_per_shard": 2})
    path = write_json(tmp_path / "ctrl-c.json", cfg)
    store_dir = tmp_path / "store"
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "lock").touch()
    with (gate / "lock").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-c", _GATED_SHARDS_THEN_CLI, "sweep", "--config", str(path), "--store",
             str(store_dir), "--workers", "2", "--log-format", "json"],
            cwd=ROOT, env=cli_env({"TR_TEST_SHARD_GATE": str(gate)}), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _wait_for(lambda: any(store_dir.rglob("result.json.SUCCESS")), proc, "complete shard")
            _wait_for(lambda: any(gate.glob("waiting-*")), proc, "shard in progress")
            os.killpg(proc.pid, signal.SIGINT)
            fcntl.flock(lock, fcntl.LOCK_UN)  # the held shards go on and finish writing
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, err
    assert problem_lines(err)[-1] == "interrupted"
    assert "Traceback" not in err

    store = open_store(str(store_dir))
    keys = ExperimentKeys(reference.experiment_id, "rps-2")
    plan = json.loads(read_complete(store, keys.plan))
    complete = [s["shard_id"] for s in plan["shards"] if is_complete(store, keys.shard_result(s["shard_id"]))]
    assert 1 <= len(complete) < 50  # interrupted mid-run
    for sid in complete:  # every marked shard verifies
        result = json.loads(read_complete(store, keys.shard_result(sid)))
        assert result["shard_id"] == sid
    assert [p for p in store_dir.rglob("*") if p.name.startswith(".trstore-tmp-")] == []

    code, lines = run(capsys, "sweep", "--config", str(path), "--store", str(store_dir), "--workers", "2")
    assert code == 0
    assert any(f"ran {50 - len(complete)} shard(s), 50/50 complete" in line for line in lines)
    assert summary_bytes(store, reference.experiment_id) == reference.summary
