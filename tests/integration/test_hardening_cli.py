"""Inputs and results that used to end in a traceback or a wrong exit code (issue 10): each case runs the real
CLI and asserts the exit code and the one line a user reads."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.experiment_support import experiment_config, write_json
from tests.report_support import run_main
from trading_runtime.store import ArtifactStore, open_store, read_complete, write_complete

STRATEGIES = "tests.experiment_strategies"


def run(*argv: str) -> tuple[int, list[str], str]:
    """(exit code, stderr lines that are not JSON logs, stdout) of the CLI in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_main("--log-format", "json", *argv)
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip() and not ln.startswith("{")]
    return code, lines, out.getvalue()


# -- bug 6: ids are ids, never paths --------------------------------------------------------------------

BAD_IDS = ["../../etc", "/etc", "", "a" * 5000, "a/b", "..", ".trstore-tmp-x"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=["dotdot", "absolute", "empty", "5000", "slash", "parent", "reserved"])
@pytest.mark.parametrize("argv", [
    ("finalize", "--store", "S", "--experiment", "{}"),
    ("run-shard", "--store", "S", "--experiment", "{}", "--shard", "shard-00000"),
    ("run-shard", "--store", "S", "--experiment", "e", "--shard", "{}"),
    ("validate", "--store", "S", "--experiment", "{}", "--golden", "g"),
    ("optimize", "status", "--store", "S", "--study", "{}"),
    ("optimize", "tell", "--store", "S", "--study", "{}", "--generation", "0"),
    ("optimize", "finalize", "--store", "S", "--study", "{}"),
], ids=lambda a: "-".join(x for x in a[:2] if not x.startswith("-")))
def test_an_invalid_experiment_study_or_shard_id_is_a_usage_error(tmp_path, argv, bad):
    argv = tuple(str(tmp_path / "store") if a == "S" else a.replace("{}", bad) for a in argv)
    code, lines, _ = run(*argv)
    assert code == 2
    assert len(lines) == 1 and "error: argument --" in lines[0], lines
    assert "expected an id of 1-200 letters, digits, '.', '_' or '-'" in lines[0]
    assert len(lines[0]) < 300
    assert not (tmp_path / "store").exists()


# -- weak spot: numeric flags ---------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    (("sweep", "--config", "c.json", "--workers", "0"), "argument --workers: expected an integer >= 1 (got '0')"),
    (("sweep", "--config", "c.json", "--workers", "-3"), "argument --workers: expected an integer >= 1 (got '-3')"),
    (("optimize", "--config", "c.json", "--workers", "0"), "argument --workers: expected an integer >= 1 (got '0')"),
    (("optimize", "run", "--config", "c.json", "--max-generations", "0"),
     "argument --max-generations: expected an integer >= 1 (got '0')"),
    (("sweep", "--config", "c.json", "--progress-every", "0"),
     "argument --progress-every: expected an integer >= 1 (got '0')"),
    (("run-shard", "--store", "s", "--experiment", "e", "--shard", "s", "--progress-seconds", "nan"),
     "argument --progress-seconds: expected a finite number of seconds > 0 (got 'nan')"),
    (("run-shard", "--store", "s", "--experiment", "e", "--shard", "s", "--progress-seconds", "-1"),
     "argument --progress-seconds: expected a finite number of seconds > 0 (got '-1')"),
    (("run-shard", "--store", "s", "--experiment", "e", "--shard", "s", "--progress-seconds", "inf"),
     "argument --progress-seconds: expected a finite number of seconds > 0 (got 'inf')"),
])
def test_numeric_flags_out_of_range_are_usage_errors(argv, expected):
    code, lines, _ = run(*argv)
    assert code == 2
    assert len(lines) == 1 and lines[0].endswith(expected), lines


# -- bug 8: the abstract base is not a strategy --------------------------------------------------------

def test_the_abstract_strategy_base_is_refused(tmp_path, base_config):
    base_config["strategy"] = {"class_path": "trading_runtime.strategies.sma_cross:Strategy", "params": {}}
    base_config["output"] = {"dir": str(tmp_path / "out")}
    config = write_json(tmp_path / "abstract.json", base_config)
    code, lines, _ = run("backtest", "--config", str(config))
    assert code == 2
    assert lines == [f"{config}: strategy.class_path: 'trading_runtime.strategies.sma_cross:Strategy' is abstract "
                     "(it does not define target); expected a concrete Strategy subclass such as "
                     "trading_runtime.strategies.sma_cross:SmaCross"]
    assert not (tmp_path / "out").exists()


# -- bug 4: a total loss is a result ------------------------------------------------------------------

LOSS_BARS = """timestamp,open,high,low,close,volume
2024-01-01T00:00:00Z,100,100,100,100,1
2024-01-02T00:00:00Z,100,200,100,200,1
2024-01-03T00:00:00Z,200,200,200,200,1
2024-01-04T00:00:00Z,200,200,200,200,1
"""


def loss_config(tmp_path: Path, name: str, exposure: float) -> Path:
    """A short of the whole account held while the price doubles: final equity exactly 0 (exposure -1)."""
    (tmp_path / "bars.csv").write_text(LOSS_BARS)
    return write_json(tmp_path / f"{name}.json", {
        "schema_version": 1, "id": name, "seed": 1,
        "data": {"path": str(tmp_path / "bars.csv"), "timeframe": "1d"},
        "strategy": {"class_path": f"{STRATEGIES}:Constant", "params": {"exposure": exposure}},
        "execution": {"fee_bps": 0, "slippage_bps": 0}, "risk": {"allow_short": True},
        "output": {"dir": str(tmp_path / name)}})


def test_a_backtest_that_loses_everything_is_a_result(tmp_path):
    ruin = loss_config(tmp_path, "ruin", -1.0)
    flat = loss_config(tmp_path, "flat", 0.0)
    code, lines, _ = run("backtest", "--config", str(ruin), "--allow-strategy-prefix", STRATEGIES)
    assert code == 0, lines
    stats = json.loads((tmp_path / "ruin" / "stats.json").read_text())
    assert (stats["final_equity"], stats["total_return"]) == (0.0, -1.0)
    assert (tmp_path / "ruin" / "report.html").is_file()
    code, lines, out = run("report", "--results", str(tmp_path / "ruin"), "--output", str(tmp_path / "r.html"))
    assert (code, out) == (0, f"{tmp_path / 'r.html'}\n"), lines
    assert "100,000" in (tmp_path / "r.html").read_text()  # the initial cash, recovered from the equity
    for a, b in ((ruin, flat), (tmp_path / "ruin", tmp_path / "ruin")):
        code, lines, out = run("compare", str(a), str(b), "--output-dir", str(tmp_path / "cmp"),
                               "--allow-strategy-prefix", STRATEGIES)
        assert code == 0, lines
        assert "final_equity                0.00" in out
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    # the ruin compared with itself: after the ruin bar nothing is left to gain or lose
    assert doc["paired_t_test"]["mean_difference"] == 0.0
    assert doc["verdict"].startswith("no evidence of a difference")


# -- bug 7: content that passes its marker but is malformed ---------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str, Path]:
    """(store, experiment id, config) of a finalized 2-shard sweep."""
    d = tmp_path_factory.mktemp("finished")
    config = write_json(d / "exp.json", experiment_config(
        data={"end": "2024-01-02T00:00:00Z"}, sweep={"kind": "grid", "params": {"fast": [5, 10], "slow": [30]}},
        validation={"kind": "holdout", "test_fraction": 0.5}, shards={"runs_per_shard": 1}))
    code, lines, _ = run("sweep", "--config", str(config), "--store", str(d / "store"), "--workers", "1")
    assert code == 0, lines
    (experiment,) = [p.name for p in (d / "store" / "experiments").iterdir()]
    return d / "store", experiment, config


@pytest.fixture
def store_copy(finished, tmp_path) -> tuple[ArtifactStore, str]:
    shutil.copytree(finished[0], tmp_path / "store")
    return open_store(str(tmp_path / "store")), finished[1]


RESULT = "shards/rps-1/shard-00001/result.json"


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda doc: [doc], "expected a JSON object (got list)"),
    (lambda doc: {**doc, "runs": [{k: v for k, v in doc["runs"][0].items() if k != "in_sample"}]},
     "runs[0].in_sample: missing"),
    (lambda doc: {**doc, "runs": [{**doc["runs"][0], "in_sample": {"sharpe": 1.0}}]},
     "runs[0].in_sample: metric 'final_equity' missing"),
    (lambda doc: {**doc, "runs": [{**doc["runs"][0], "in_sample": {**doc["runs"][0]["in_sample"], "sharpe": "1"}}]},
     "runs[0].in_sample.sharpe: expected a number or null (got '1')"),
    (lambda doc: {**doc, "runs": "all of them"}, "runs: expected a list"),
    (lambda doc: {**doc, "runs": [{**doc["runs"][0], "params": "fast=5"}]}, "runs[0].params: expected an object"),
], ids=["list", "no-in-sample", "no-metric", "string-metric", "runs-text", "params-text"])
def test_a_marked_but_malformed_result_fails_finalize_with_exit_3_naming_the_shard(store_copy, mangle, reason):
    store, experiment = store_copy
    key = f"experiments/{experiment}/{RESULT}"
    doc = json.loads(read_complete(store, key))
    write_complete(store, key, json.dumps(mangle(doc)).encode())  # a valid marker for bad content
    code, lines, _ = run("finalize", "--store", store.uri, "--experiment", experiment)
    assert code == 3, lines
    assert lines == [f"experiment {experiment}: 1 of 2 shards complete (1 failed, 0 missing); runs 1 of 2",
                     f"shard shard-00001: failed: malformed result experiments/{experiment}/{RESULT}: {reason}"]


@pytest.mark.parametrize("garbage", [b"\x00\xff not json", b"[1, 2]", b'{"error": 5}'])
def test_a_garbage_failed_json_is_reported_not_a_traceback(store_copy, garbage):
    store, experiment = store_copy
    key = f"experiments/{experiment}/{RESULT}"
    store.delete(key + ".SUCCESS")
    store.put_bytes(key.replace("result.json", "failed.json"), garbage)
    code, lines, _ = run("finalize", "--store", store.uri, "--experiment", experiment)
    assert code == 3, lines
    assert lines[1] == (f"shard shard-00001: failed: failed (unreadable experiments/{experiment}/"
                        "shards/rps-1/shard-00001/failed.json: expected a JSON object with an 'error' text)")


def test_a_marked_plan_of_the_wrong_schema_is_exit_3(store_copy):
    store, experiment = store_copy
    write_complete(store, f"experiments/{experiment}/plan.json", b'{"schema_version": 1, "runs": 3}')
    for argv in (("finalize", "--store", store.uri, "--experiment", experiment),
                 ("run-shard", "--store", store.uri, "--experiment", experiment, "--shard", "shard-00000")):
        code, lines, _ = run(*argv)
        assert code == 3, lines
        assert len(lines) == 1
        assert lines[0].startswith(f"{store.uri}: experiment '{experiment}': malformed plan (it passed its marker): "
                                   f"experiments/{experiment}/plan.json: ")


# -- validate -----------------------------------------------------------------------------------------

def test_validate_of_a_path_without_results_is_bad_input(tmp_path):
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "summary.json").write_text("{}")
    code, lines, _ = run("validate", "--results", str(tmp_path / "nope"), "--golden", str(golden))
    assert code == 2
    assert lines == [f"validate: no results at {(tmp_path / 'nope').as_uri()}/ (expected <store>/experiments/<id> "
                     "of a finalized experiment, or --store URI --experiment ID)"]


def test_validate_reads_fanin_json_through_its_marker(finished, tmp_path):
    store, experiment, _ = finished
    golden = tmp_path / "golden"
    golden.mkdir()
    fanin = store / "experiments" / experiment / "fanin.json"
    assert (store / "experiments" / experiment / "fanin.json.SUCCESS").is_file()
    (golden / "fanin.json").write_bytes(fanin.read_bytes())
    code, lines, out = run("validate", "--results", str(store / "experiments" / experiment), "--golden", str(golden))
    assert (code, lines) == (0, [])
    assert out == f"validate: fanin.json match {golden}\n"


# -- bug 5: local-store I/O errors are one line with a documented exit code --------------------------------

def test_backtest_output_errors_are_one_line(tmp_path, base_config, write_config):
    config = write_config(base_config)
    (tmp_path / "file").write_text("")
    code, lines, _ = run("backtest", "--config", str(config), "--output-dir", str(tmp_path / "file"))
    assert code == 2
    assert lines == [f"store: cannot write 'equity.parquet' in {(tmp_path / 'file').as_uri()}: {tmp_path / 'file'} "
                     "is a file, expected a directory (or a path to create)"]
    code, lines, _ = run("finalize", "--store", f"file://{tmp_path}/x%00y", "--experiment", "e")
    assert code == 2
    assert lines == [f"store: invalid local store path '{tmp_path}/x\\x00y': NUL character"]


def test_a_full_disk_is_exit_75_and_one_line(tmp_path, base_config, write_config):
    import resource
    import subprocess
    import sys

    from tests.conftest import ROOT

    config = write_config(base_config)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    proc = subprocess.run([sys.executable, "-m", "trading_runtime", "--log-format", "json", "backtest", "--config",
                           str(config), "--output-dir", str(tmp_path / "out")], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120, preexec_fn=small_files)
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("{")]
    assert proc.returncode == 75, proc.stderr
    assert lines == [f"store: cannot write 'equity.parquet' in {(tmp_path / 'out').as_uri()}: no space left "
                     "(File too large); nothing was written, free some space and run the step again"]
    assert list((tmp_path / "out").iterdir()) == []


# -- weak spots: silent ambiguity, loose bounds and error text in configs -----------------------------------

def plan_lines(tmp_path: Path, config_text: str) -> tuple[int, list[str]]:
    path = tmp_path / "exp.json"
    path.write_text(config_text)
    code, lines, _ = run("plan", "--config", str(path), "--store", str(tmp_path / "store"), "--dry-run")
    return code, [line.replace(str(path), "exp.json") for line in lines]


def exp_text(**overrides: object) -> str:
    return json.dumps(experiment_config(**overrides))


@pytest.mark.parametrize(("text", "expected"), [
    ('{"schema_version": 1, "id": "x", "seed": 1, "seed": 2}',
     'exp.json: duplicate key "seed" in an object with keys ["schema_version", "id", "seed", "seed"] '
     "(each key once: which value was meant?)"),
    (exp_text(sweep={"kind": "grid", "params": {"fast": [5, None], "slow": [30]}}),
     "exp.json: sweep.params.fast[1]: Input should be a valid integer, number, string or boolean (got null)"),
    (exp_text(warmup_bars=-1), 'exp.json: warmup_bars: warmup_bars must be >= 0 or "auto" (got -1)'),
    (exp_text(strategy={"params": {"fast": 10}}),
     "exp.json: sweep.params.fast is searched and also fixed in strategy.params.fast (= 10): remove one of the two"),
    (exp_text(sweep={"kind": "optuna", "n_trials": 40, "sampler": {"name": "tpe", "seed": 1}, "space": {}}),
     "exp.json: sweep.space is empty: every trial would be the same run (give at least one parameter, or null "
     "for the strategy's declared bounds)"),
    (exp_text(data={"timeframe": "99999999999999999999w"}),
     "exp.json: data.timeframe: timeframe '99999999999999999999w': expected a bar of 1s up to 366d (e.g. 1m, 4h, 1d) "
     '(got "99999999999999999999w")'),
    (exp_text(validation={"kind": "walk_forward", "train": "1d", "test": "1h", "step": "1m"}),
     "exp.json: validation: walk-forward train 1d, test 1h, step 1m makes 4,141 folds on this data; at most 1,000 "
     "(use a longer step)"),
], ids=["duplicate-key", "union-path", "got-once", "fixed-and-swept", "empty-space", "timeframe", "folds"])
def test_ambiguous_or_absurd_configs_are_one_clear_line(tmp_path, text, expected):
    code, lines = plan_lines(tmp_path, text)
    assert (code, lines) == (2, [expected])


def test_an_unterminated_csv_quote_keeps_its_capitals(tmp_path, base_config, write_config):
    bars = tmp_path / "bars.csv"
    bars.write_text('timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,100,100,"100,1\n')
    base_config["data"]["path"] = str(bars)
    code, lines, _ = run("backtest", "--config", str(write_config(base_config)))
    assert (code, lines) == (2, [f"{bars}: cannot read CSV: EOF inside string starting at row 1"])


# -- weak spots: data files -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "char-device"])
def test_data_path_must_be_a_regular_file(tmp_path, base_config, write_config, kind):
    import os

    if kind == "fifo":
        path = tmp_path / "bars.csv"
        os.mkfifo(path)  # reading it would block forever
        got = "a FIFO"
    else:
        path = Path("/dev/zero")  # only stat'ed: reading it would never end
        got = "a character device"
    base_config["data"]["path"] = str(path)
    base_config["data"]["format"] = "csv"
    code, lines, _ = run("backtest", "--config", str(write_config(base_config)))
    assert (code, lines) == (2, [f"{path}: expected a regular file (got {got})"])


def test_parquet_prices_stored_as_text_are_refused(tmp_path, base_config, write_config):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bars.parquet"
    table = pa.table({"timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"],
                      "open": ["100", "101"], "high": [101.0, 102.0], "low": [99.0, 100.0],
                      "close": [100.5, 101.5], "volume": [1.0, 1.0]})
    pq.write_table(table, path)
    base_config["data"]["path"] = str(path)
    base_config["data"]["format"] = "parquet"
    code, lines, _ = run("backtest", "--config", str(write_config(base_config)))
    assert code == 2
    assert f"{path}: open: expected a column of numbers (got string: store prices and volume as numbers, " \
           "not text)" in lines


# -- weak spots: plan ---------------------------------------------------------------------------------

def test_replanning_with_another_shard_size_is_refused_naming_both(finished, tmp_path):
    store, experiment, config = finished
    shutil.copytree(store, tmp_path / "store")
    before = {p: p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file()}
    code, lines, _ = run("plan", "--config", str(config), "--store", str(tmp_path / "store"))
    assert code == 0, lines  # the same plan again: byte-identical, fine
    doc = json.loads(config.read_text())
    doc["shards"] = {"runs_per_shard": 2}
    other = write_json(tmp_path / "other.json", doc)
    for command in ("plan", "sweep"):
        code, lines, _ = run(command, "--config", str(other), "--store", str(tmp_path / "store"))
        assert code == 2
        assert lines[-1] == (f"{(tmp_path / 'store').as_uri()}: experiment '{experiment}' is already planned at "
                             f"experiments/{experiment}/plan.json with runs_per_shard 1 (this plan: 2); finish or "
                             "remove it, or plan with runs_per_shard 1")
    assert {p: p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file()} == before


def test_plan_into_a_memory_store_is_refused(finished):
    _, _, config = finished
    code, lines, out = run("plan", "--config", str(config), "--store", "memory://plan-test")
    assert (code, out) == (2, "")
    assert lines[-1] == ("plan: store memory://plan-test is in memory and ends with this process (use a path, "
                         "file:// or s3://bucket/prefix)")


# -- weak spot: pool workers die with their parent --------------------------------------------------------

def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc/*/stat)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_the_sweep_parent_ends_its_pool_workers(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    from tests.experiment_support import cli_env

    config = write_json(tmp_path / "exp.json", experiment_config(
        data={"end": "2024-01-02T00:00:00Z"}, validation={"kind": "full"}, shards={"runs_per_shard": 1},
        sweep={"kind": "grid", "params": {"fast": {"start": 2, "stop": 20, "step": 1},
                                          "slow": {"start": 30, "stop": 120, "step": 5}}}))
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "trading_runtime", "sweep", "--config", str(config), "--store",
                             str(store), "--workers", "2", "--log-format", "json"], cwd=ROOT, env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (any(store.rglob("result.json.SUCCESS")) and len(workers := _children(proc.pid)) >= 2):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, f"workers {[w for w in workers if _alive(w)]} outlived the parent"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for pid in workers:  # only a worker of this sweep still alive (never a pid reused by another process)
            if _alive(pid) and b"trading_runtime" in Path(f"/proc/{pid}/cmdline").read_bytes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_credentials_in_aws_endpoint_url_are_never_shown(monkeypatch):
    import socket

    with socket.socket() as closed:  # bound, never listening: connections are refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://admin:SECRET@127.0.0.1:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("TRADING_RUNTIME_S3_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("TRADING_RUNTIME_S3_BACKOFF_SECONDS", "0")
        for fmt in ("json", "text"):
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = run_main("--log-format", fmt, "finalize", "--store", "s3://bucket/p", "--experiment", "e")
            assert code == 75
            assert "SECRET" not in err.getvalue()
            last = err.getvalue().splitlines()[-1]
            assert last == ("store: s3 get_object s3://bucket/p/experiments/e/plan.json.SUCCESS failed after 2 "
                            "attempts: EndpointConnectionError: Could not connect to the endpoint URL: "
                            f'"http://admin:***@127.0.0.1:{port}/bucket/p/experiments/e/plan.json.SUCCESS"')
