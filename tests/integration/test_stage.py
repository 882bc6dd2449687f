"""The user's own experiments in the cluster: ``stage`` puts config and data into a store, and every step
reads them from there, from a directory where no local file could be used.

Real parts only: the CLI in subprocesses, a real local store, and the real moto S3 server on 127.0.0.1.
Each subprocess gets its own TMPDIR, so its data cache (``$TMPDIR/trading-runtime-data``) is the test's.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.experiment_support import PARQUET, cli_env, experiment_config, problem_lines, write_json
from tests.optimize_support import small_config
from tests.s3_server import free_port
from trading_runtime.store import open_store

DATA_SHA256 = hashlib.sha256(PARQUET.read_bytes()).hexdigest()
RESULTS = ROOT / "tests" / "data" / "results"


def run(*args: str, cwd: Path, tmpdir: Path, stdin: str | None = None,
        extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m trading_runtime ARGS`` in ``cwd`` with its own TMPDIR (so its own data cache)."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = cli_env({"TMPDIR": str(tmpdir), **(extra_env or {})})
    env["PYTHONPATH"] = str(ROOT)  # tests run from an empty directory
    return subprocess.run([sys.executable, "-m", "trading_runtime", "--log-format", "json", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=300, env=env, input=stdin)


def stage(config: Path, store: str, tmp_path: Path) -> str:
    proc = run("stage", "--config", str(config), "--store", store, cwd=ROOT, tmpdir=tmp_path / "tmp-stage")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1]


def read_staged(uri: str) -> tuple[dict[str, Any], bytes]:
    head, _, key = uri.rpartition("/")
    content = open_store(head).get_bytes(key)
    return json.loads(content), content


def elsewhere(tmp_path: Path) -> Path:
    """An empty working directory: relative paths of the repository resolve to nothing here."""
    d = tmp_path / "elsewhere"
    d.mkdir(exist_ok=True)
    return d


def cluster_steps(config_uri: str, store: str, cwd: Path, tmpdir: Path) -> str:
    """plan → every run-shard → finalize, as the workflow's pods run them; the experiment id."""
    planned = run("plan", "--config", config_uri, "--store", store, cwd=cwd, tmpdir=tmpdir)
    assert planned.returncode == 0, planned.stderr
    shards = json.loads(planned.stdout)
    experiment = re.search(r"experiment (\S+)", planned.stderr)
    assert experiment is not None, planned.stderr
    for shard in shards:
        done = run("run-shard", "--store", store, "--experiment", experiment.group(1), "--shard", shard,
                   cwd=cwd, tmpdir=tmpdir)
        assert done.returncode == 0, done.stderr
    final = run("finalize", "--store", store, "--experiment", experiment.group(1), cwd=cwd, tmpdir=tmpdir)
    assert final.returncode == 0, final.stderr
    return experiment.group(1)


def summary_of(store: str, experiment: str) -> bytes:
    return open_store(store).get_bytes(f"experiments/{experiment}/summary.json")


@pytest.fixture(scope="module")
def local_summary(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """The reference: the same experiment from the local data path, planned and run in the repository."""
    tmp = tmp_path_factory.mktemp("reference")
    cfg = write_json(tmp / "exp.json", experiment_config())
    store = str(tmp / "store")
    experiment = cluster_steps(str(cfg), store, ROOT, tmp / "tmp")
    return experiment, summary_of(store, experiment)


# -- stage into S3, then the cluster steps from the staged URI ----------------------------------------------


@pytest.mark.s3
def test_staged_experiment_runs_from_s3_with_summary_bytes_of_the_local_run(
        tmp_path, s3_env, s3_bucket, local_summary, monkeypatch):
    store = f"s3://{s3_bucket}/stage/experiment"
    cfg = write_json(tmp_path / "exp.json", experiment_config())
    uri = stage(cfg, store, tmp_path)

    assert re.fullmatch(rf"{store}/configs/[0-9a-f]{{64}}\.json", uri), uri
    doc, content = read_staged(uri)
    assert uri.endswith(f"/configs/{hashlib.sha256(content).hexdigest()}.json")  # named by its canonical JSON
    assert doc["data"]["path"] == f"{store}/datasets/{DATA_SHA256}.parquet"
    assert doc["data"]["sha256"] == DATA_SHA256
    assert open_store(store).get_bytes(f"datasets/{DATA_SHA256}.parquet") == PARQUET.read_bytes()

    experiment = cluster_steps(uri, store, elsewhere(tmp_path), tmp_path / "tmp-pod")
    assert experiment == local_summary[0]  # where the data came from is not part of the identity
    assert summary_of(store, experiment) == local_summary[1]
    plan = json.loads(open_store(store).get_bytes(f"experiments/{experiment}/plan.json"))
    assert plan["data"]["path"] == doc["data"]["path"]  # ... it is provenance, in the plan


@pytest.mark.s3
def test_run_shard_uses_the_verified_cached_copy_and_refetches_a_corrupt_one(tmp_path, s3_env, s3_bucket):
    store = f"s3://{s3_bucket}/stage/cache"
    uri = stage(write_json(tmp_path / "exp.json", experiment_config()), store, tmp_path)
    pod_tmp = tmp_path / "tmp-pod"
    cwd = elsewhere(tmp_path)
    planned = run("plan", "--config", uri, "--store", store, cwd=cwd, tmpdir=pod_tmp)
    assert planned.returncode == 0, planned.stderr
    cached = pod_tmp / "trading-runtime-data" / f"{DATA_SHA256}.parquet"
    assert cached.read_bytes() == PARQUET.read_bytes()
    experiment = re.search(r"experiment (\S+)", planned.stderr).group(1)  # type: ignore[union-attr]

    open_store(store).delete(f"datasets/{DATA_SHA256}.parquet")  # only the cache holds the data now
    shard = ["run-shard", "--store", store, "--experiment", experiment, "--shard", "shard-00000"]
    assert run(*shard, cwd=cwd, tmpdir=pod_tmp).returncode == 0

    cached.write_bytes(cached.read_bytes()[:-1] + b"x")  # a corrupt cached copy is not used ...
    proc = run(*shard, cwd=cwd, tmpdir=pod_tmp)
    assert proc.returncode == 2  # ... it is fetched again, and the object is gone: bad input naming the URI
    assert problem_lines(proc.stderr) == [f"{store}/datasets/{DATA_SHA256}.parquet: file not found in the store"]


@pytest.mark.s3
def test_unreachable_store_is_transient_and_a_missing_object_is_bad_input(tmp_path, s3_env, s3_bucket):
    missing = f"s3://{s3_bucket}/stage/nothing/configs/{'0' * 64}.json"
    proc = run("plan", "--config", missing, "--dry-run", cwd=elsewhere(tmp_path), tmpdir=tmp_path / "t")
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [f"{missing}: file not found in the store"]

    down = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "TRADING_RUNTIME_S3_MAX_ATTEMPTS": "1"}
    proc = run("plan", "--config", missing, "--dry-run", cwd=elsewhere(tmp_path), tmpdir=tmp_path / "t",
               extra_env=down)
    assert proc.returncode == 75, proc.stderr
    assert len(problem_lines(proc.stderr)) == 1 and "failed after 1 attempt" in proc.stderr

    cfg = write_json(tmp_path / "data-missing.json", experiment_config(
        data={"path": f"s3://{s3_bucket}/stage/nothing/bars.parquet"}))
    proc = run("plan", "--config", str(cfg), "--dry-run", cwd=ROOT, tmpdir=tmp_path / "t")
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [f"s3://{s3_bucket}/stage/nothing/bars.parquet: file not found in the store"]


@pytest.mark.s3
def test_pinned_sha256_that_differs_names_both_digests(tmp_path, s3_env, s3_bucket):
    store = f"s3://{s3_bucket}/stage/pinned"
    uri = stage(write_json(tmp_path / "exp.json", experiment_config()), store, tmp_path)
    doc, _ = read_staged(uri)
    wrong = "f" * 64
    doc["data"]["sha256"] = wrong
    proc = run("plan", "--config", "-", "--dry-run", cwd=elsewhere(tmp_path), tmpdir=tmp_path / "t",
               stdin=json.dumps(doc))
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [
        f"{doc['data']['path']}: sha256 {DATA_SHA256} does not match data.sha256 {wrong}"]


# -- stage into a local store: backtest and Optuna configs, idempotence ---------------------------------------


def test_staged_backtest_reproduces_the_committed_results_from_another_directory(tmp_path, base_config):
    store = (tmp_path / "store").as_uri()
    uri = stage(write_json(tmp_path / "local.json", base_config), store, tmp_path)
    doc, _ = read_staged(uri)
    csv_sha = hashlib.sha256(Path(base_config["data"]["path"]).read_bytes()).hexdigest()
    assert doc["data"] == {**base_config["data"], "path": f"{store}/datasets/{csv_sha}.csv", "sha256": csv_sha}

    out = tmp_path / "out"
    proc = run("backtest", "--config", uri, "--output-dir", str(out), cwd=elsewhere(tmp_path), tmpdir=tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    for name in ("stats.json", "trades.csv", "equity.parquet"):
        assert (out / name).read_bytes() == (RESULTS / name).read_bytes(), name
    assert json.loads((out / "manifest.json").read_text())["data"]["path"] == doc["data"]["path"]  # provenance


def test_staging_twice_skips_verified_data_and_repairs_a_corrupt_object(tmp_path, base_config):
    root = tmp_path / "store"
    cfg = write_json(tmp_path / "local.json", base_config)
    first = stage(cfg, str(root), tmp_path)
    (dataset,) = (root / "datasets").iterdir()
    inode = dataset.stat().st_ino
    assert stage(cfg, str(root), tmp_path) == first
    assert dataset.stat().st_ino == inode  # already there and verified: not written again

    good = dataset.read_bytes()
    dataset.write_bytes(b"not the bars")
    assert stage(cfg, str(root), tmp_path) == first
    assert dataset.read_bytes() == good


def test_staged_optuna_search_gives_the_results_of_the_local_path(tmp_path):
    cfg = write_json(tmp_path / "opt.json", small_config())
    uri = stage(cfg, (tmp_path / "staged").as_uri(), tmp_path)
    outputs = {}
    for label, config, cwd in (("local", str(cfg), ROOT), ("staged", uri, elsewhere(tmp_path))):
        store = tmp_path / f"study-{label}"
        proc = run("optimize", "--config", config, "--store", str(store), "--workers", "1", cwd=cwd,
                   tmpdir=tmp_path / f"t-{label}")
        assert proc.returncode == 0, proc.stderr
        (study,) = (store / "optimize").iterdir()
        outputs[label] = {p.name: p.read_bytes() for p in sorted((study / "results").glob("*.json"))}
    assert sorted(outputs["local"]) == sorted(outputs["staged"]) and len(outputs["local"]) >= 5
    for name, content in outputs["local"].items():
        if name == "metadata.json":  # provenance (commits) is the same here; only the data location differs
            assert "provenance" in json.loads(content)
        assert outputs["staged"][name] == content, name


# -- --config from stdin, and bad input ---------------------------------------------------------------------


def test_config_from_stdin(tmp_path):
    doc = experiment_config()
    proc = run("plan", "--config", "-", "--dry-run", cwd=ROOT, tmpdir=tmp_path / "t", stdin=json.dumps(doc))
    assert proc.returncode == 0, proc.stderr
    assert "runs 60 = 12 parameter sets × 5 window(s)" in proc.stderr

    proc = run("plan", "--config", "-", "--dry-run", cwd=ROOT, tmpdir=tmp_path / "t", stdin="{\"id\": 1,")
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [
        "<stdin>: line 1 column 10: invalid JSON: Expecting property name enclosed in double quotes "
        "(near '{\"id\": 1,')"]


@pytest.mark.parametrize("value", ["abc", "F" * 64, "0" * 63])
def test_data_sha256_must_be_64_lower_case_hex(tmp_path, value):
    cfg = write_json(tmp_path / "exp.json", experiment_config(data={"sha256": value}))
    proc = run("plan", "--config", str(cfg), "--dry-run", cwd=ROOT, tmpdir=tmp_path / "t")
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [
        f"{cfg}: data.sha256: expected 64 lower-case hex characters (the sha256 of the file's bytes) "
        f"(got \"{value}\")"]


def test_local_data_with_another_pinned_sha256_is_bad_input(tmp_path):
    wrong = "0" * 64
    cfg = write_json(tmp_path / "exp.json", experiment_config(data={"sha256": wrong}))
    for command in (["plan", "--config", str(cfg), "--dry-run"], ["stage", "--config", str(cfg), "--store",
                                                                   str(tmp_path / "store")]):
        proc = run(*command, cwd=ROOT, tmpdir=tmp_path / "t")
        assert proc.returncode == 2
        assert problem_lines(proc.stderr) == [f"{PARQUET}: sha256 {DATA_SHA256} does not match data.sha256 {wrong}"]
    assert not (tmp_path / "store").exists()  # nothing half-written


@pytest.mark.parametrize("path", ["s3://bucket-only", "ftp://host/bars.parquet"])
def test_a_data_uri_that_names_no_file_in_a_store_is_bad_input(tmp_path, path):
    cfg = write_json(tmp_path / "exp.json", experiment_config(data={"path": path}))
    proc = run("plan", "--config", str(cfg), "--dry-run", cwd=ROOT, tmpdir=tmp_path / "t")
    assert proc.returncode == 2, proc.stderr
    assert len(problem_lines(proc.stderr)) == 1
    assert problem_lines(proc.stderr)[0].startswith(("store: unsupported URI 'ftp:", f"{path}: expected the URI"))


def test_stage_from_stdin_with_a_relative_data_path_stages_the_same_config(tmp_path, base_config):
    """A relative data path resolves against the working directory, as for every command."""
    store = str(tmp_path / "store")
    from_file = stage(write_json(tmp_path / "local.json", base_config), store, tmp_path)
    cfg = dict(base_config, data={**base_config["data"], "path": "tests/data/parts/synthetic_1m.csv"})
    proc = run("stage", "--config", "-", "--store", store, cwd=ROOT, tmpdir=tmp_path / "t", stdin=json.dumps(cfg))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == from_file
