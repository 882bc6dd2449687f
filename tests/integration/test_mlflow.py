"""MLflow tracking from finalize, against a real local file store read back with MLflow's own client."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.report_support import cli, experiment_config, run_main, sweep
from trading_runtime.report import load_results, render_report

try:  # a dependency (requirements.in: mlflow-skinny): missing is a failure, not a skip
    import mlflow  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.fail("mlflow is not installed: mlflow-skinny is in requirements.in (recompile the locks)",
                pytrace=False)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    d = tmp_path_factory.mktemp("mlflow")
    cfg = experiment_config(d, name="tracked", params={"fast": [10, 20], "slow": [60, 120]},
                            validation={"kind": "holdout", "test_fraction": 0.25})
    exp = sweep(cfg, d / "store")
    return d, d / "store", exp


def finalize_env(d, name: str = "") -> dict[str, str]:
    env = {"MLFLOW_TRACKING_URI": f"file://{d / 'mlruns'}", "MLFLOW_ALLOW_FILE_STORE": "true"}
    if name:
        env["MLFLOW_EXPERIMENT_NAME"] = name
    return env


def test_finalize_logs_one_run_per_experiment(experiment, monkeypatch):
    d, store, exp = experiment
    proc = cli("finalize", "--store", str(store), "--experiment", exp, "--log-format", "json",
               env=finalize_env(d, "research"))
    assert proc.returncode == 0, proc.stderr
    logged = [json.loads(line) for line in proc.stderr.splitlines()]
    assert any(rec["message"].startswith(f"mlflow: logged experiment {exp} as run ") for rec in logged)
    assert all(rec.get("level") != "warning" for rec in logged), proc.stderr

    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses a file store without it
    client = MlflowClient(tracking_uri=f"file://{d / 'mlruns'}")
    mexp = client.get_experiment_by_name("research")
    assert mexp is not None
    runs = client.search_runs([mexp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == exp and run.info.status == "FINISHED"
    assert run.data.tags["trading_runtime.experiment_id"] == exp
    assert run.data.tags["trading_runtime.validation"] == "holdout"
    params = run.data.params
    assert params["experiment_id"] == exp
    assert params["strategy.class_path"] == "trading_runtime.strategies.sma_cross:SmaCross"
    assert params["validation.kind"] == "holdout" and params["validation.test_fraction"] == "0.25"
    assert params["sweep.params.fast"] == "[10,20]"
    assert "store" not in params  # not part of the experiment's identity
    summary = json.loads((store / "experiments" / exp / "summary.json").read_text())
    metrics = run.data.metrics
    assert metrics["runs_completed"] == summary["runs"]["completed"] == 4
    best = summary["holdout"]
    assert metrics["best_in_sample_sharpe"] == best["in_sample"]["sharpe"]
    assert metrics["best_out_of_sample_total_return"] == best["out_of_sample"]["total_return"]
    assert 0.0 <= metrics["best_psr"] <= 1.0
    artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert artifacts == ["report.html", "summary.json"]
    local = client.download_artifacts(run.info.run_id, "report.html", str(d))
    expected = render_report(load_results(str(store / "experiments" / exp)))
    with open(local, "rb") as fh:
        assert fh.read() == expected

    # finalizing again updates the same MLflow run
    for key, value in finalize_env(d, "research").items():
        monkeypatch.setenv(key, value)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_main("finalize", "--store", str(store), "--experiment", exp, "-q") == 0
    assert [r.info.run_id for r in client.search_runs([mexp.experiment_id])] == [run.info.run_id]


def test_tracking_failure_is_a_warning(experiment, monkeypatch):
    d, store, exp = experiment
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{d / 'refused'}")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses a file store without it
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert run_main("finalize", "--store", str(store), "--experiment", exp, "-q", "--log-format", "json") == 0
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert [(rec["level"], rec["logger"]) for rec in lines] == [("warning", "trading_runtime.cli.integrations")]
    assert lines[0]["message"].startswith(f"mlflow: could not log experiment {exp} to file://")
    assert lines[0]["experiment"] == exp


def test_mlflow_is_not_imported_unless_configured(experiment):
    _, store, exp = experiment
    code = ("import sys; from trading_runtime.cli.main import main; "
            f"rc = main(['finalize', '--store', {str(store)!r}, '--experiment', {exp!r}, '-q']); "
            "print(rc, 'mlflow' in sys.modules)")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 False"


def test_credentials_in_the_tracking_uri_are_never_logged(experiment, monkeypatch):
    _, store, exp = experiment
    import socket

    with socket.socket() as closed:  # bound, never listening: connections are refused at once
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://admin:SECRET@127.0.0.1:{closed.getsockname()[1]}")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            assert run_main("finalize", "--store", str(store), "--experiment", exp, "-q", "--log-format", "json") == 0
    assert "mlflow: could not log experiment" in err.getvalue()
    assert "SECRET" not in err.getvalue()
    assert "http://admin:***@127.0.0.1:" in err.getvalue()
