"""Prometheus Pushgateway metrics from run-shard and finalize, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.report_support import cli, experiment_config, experiment_id_of, run_main
from trading_runtime.tracking import Sample, exposition, push_metrics, pushgateway_path


class Receiver:
    """A Pushgateway stand-in: records every request; answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, object]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "content_type": self.headers.get("Content-Type"),
                                          "body": self.rfile.read(length).decode("utf-8")})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = _record

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_puts_the_exact_exposition_body(receiver):
    samples = [Sample("trading_runtime_shard_runs_done", 8, "Runs of the shard evaluated."),
               Sample("trading_runtime_experiment_runs", 3, "Runs by state.", (("state", "completed"),)),
               Sample("trading_runtime_experiment_runs", 1, "Runs by state.", (("state", "failed"),)),
               Sample("trading_runtime_shard_duration_seconds", 1.25, "Wall time.")]
    assert push_metrics(receiver.url + "/", (("experiment", "exp-1"), ("shard", "shard-00003")), samples)
    assert receiver.requests == [{
        "method": "PUT",
        "path": "/metrics/job/trading_runtime/experiment/exp-1/shard/shard-00003",
        "content_type": "text/plain; version=0.0.4; charset=utf-8",
        "body": ("# HELP trading_runtime_shard_runs_done Runs of the shard evaluated.\n"
                 "# TYPE trading_runtime_shard_runs_done gauge\n"
                 "trading_runtime_shard_runs_done 8\n"
                 "# HELP trading_runtime_experiment_runs Runs by state.\n"
                 "# TYPE trading_runtime_experiment_runs gauge\n"
                 'trading_runtime_experiment_runs{state="completed"} 3\n'
                 'trading_runtime_experiment_runs{state="failed"} 1\n'
                 "# HELP trading_runtime_shard_duration_seconds Wall time.\n"
                 "# TYPE trading_runtime_shard_duration_seconds gauge\n"
                 "trading_runtime_shard_duration_seconds 1.25\n"),
    }]


def test_grouping_values_with_slashes_use_base64():
    assert pushgateway_path((("experiment", "a/b"), ("shard", "s 1"))) == \
        "/metrics/job/trading_runtime/experiment@base64/YS9i/shard/s%201"
    assert exposition([Sample("m", float("nan"), "h", (("l", 'q"\\'),))]).decode().endswith('m{l="q\\"\\\\"} NaN\n')


def test_a_failed_push_is_a_warning_not_an_error(caplog):
    caplog.set_level(logging.WARNING, logger="trading_runtime.tracking.pushgateway")
    with Receiver(status=500) as r:
        assert push_metrics(r.url, (("experiment", "x"),), [Sample("m", 1, "h")]) is False
    url = f"http://127.0.0.1:{free_port()}"
    assert push_metrics(url, (("experiment", "x"),), [Sample("m", 1, "h")], timeout=2) is False
    messages = [rec.getMessage() for rec in caplog.records]
    assert len(messages) == 2 and all(m.startswith("pushgateway: push to http://127.0.0.1:") for m in messages)
    assert "HTTP Error 500" in messages[0] and "Connection refused" in messages[1]


SHARD_BODY = re.compile(
    r"# HELP trading_runtime_shard_runs_done Runs of the shard evaluated\.\n"
    r"# TYPE trading_runtime_shard_runs_done gauge\n"
    r"trading_runtime_shard_runs_done (?P<done>\d+)\n"
    r"# HELP trading_runtime_shard_runs_total Runs planned for the shard\.\n"
    r"# TYPE trading_runtime_shard_runs_total gauge\n"
    r"trading_runtime_shard_runs_total (?P<total>\d+)\n"
    r"# HELP trading_runtime_shard_failures 1 when the shard failed, else 0\.\n"
    r"# TYPE trading_runtime_shard_failures gauge\n"
    r"trading_runtime_shard_failures (?P<failed>[01])\n"
    r"# HELP trading_runtime_shard_duration_seconds Wall time of run-shard\.\n"
    r"# TYPE trading_runtime_shard_duration_seconds gauge\n"
    r"trading_runtime_shard_duration_seconds (?P<seconds>\d+(\.\d+)?)\n\Z")


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    d = tmp_path_factory.mktemp("push")
    cfg = experiment_config(d, name="push", params={"fast": [10, 20, 30], "slow": [60]},
                            validation={"kind": "full"}, runs_per_shard=2)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert run_main("plan", "--config", str(cfg), "--store", str(d / "store"), "-q") == 0
    return d / "store", experiment_id_of(err.getvalue())


def test_run_shard_and_finalize_push_their_metrics(planned, receiver, monkeypatch):
    store, exp = planned
    # the first shard in a real process with the variable in its environment, the rest in-process
    proc = cli("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00000",
               env={"PROMETHEUS_PUSHGATEWAY_URL": receiver.url})
    assert proc.returncode == 0, proc.stderr
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", receiver.url)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_main("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00001", "-q") == 0
        assert run_main("finalize", "--store", str(store), "--experiment", exp, "-q") == 0
    assert [r["method"] for r in receiver.requests] == ["PUT"] * 3
    assert [r["path"] for r in receiver.requests] == [
        f"/metrics/job/trading_runtime/experiment/{exp}/shard/shard-00000",
        f"/metrics/job/trading_runtime/experiment/{exp}/shard/shard-00001",
        f"/metrics/job/trading_runtime/experiment/{exp}/step/finalize"]
    for req, runs in zip(receiver.requests[:2], (2, 1), strict=True):
        m = SHARD_BODY.match(str(req["body"]))
        assert m is not None, req["body"]
        assert (int(m["done"]), int(m["total"]), m["failed"]) == (runs, runs, "0")
    body = str(receiver.requests[2]["body"])
    expected_lines = [
        "# HELP trading_runtime_experiment_runs Runs of the experiment by state, at fan-in.",
        "# TYPE trading_runtime_experiment_runs gauge",
        'trading_runtime_experiment_runs{state="expected"} 3',
        'trading_runtime_experiment_runs{state="completed"} 3',
        'trading_runtime_experiment_runs{state="failed"} 0',
        'trading_runtime_experiment_runs{state="missing"} 0',
        "# HELP trading_runtime_experiment_shards Shards of the experiment by state, at fan-in.",
        "# TYPE trading_runtime_experiment_shards gauge",
        'trading_runtime_experiment_shards{state="expected"} 2',
        'trading_runtime_experiment_shards{state="completed"} 2',
        'trading_runtime_experiment_shards{state="failed"} 0',
        'trading_runtime_experiment_shards{state="missing"} 0',
        "# HELP trading_runtime_finalize_failures 1 when finalize failed, else 0.",
        "# TYPE trading_runtime_finalize_failures gauge",
        "trading_runtime_finalize_failures 0",
        "# HELP trading_runtime_finalize_duration_seconds Wall time of finalize.",
        "# TYPE trading_runtime_finalize_duration_seconds gauge",
    ]
    lines = body.splitlines()
    assert lines[:-1] == expected_lines
    assert re.fullmatch(r"trading_runtime_finalize_duration_seconds \d+(\.\d+)?", lines[-1])


def test_a_failed_shard_pushes_a_failure_and_an_unreachable_gateway_fails_nothing(planned, receiver, monkeypatch):
    store, exp = planned
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", receiver.url)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_main("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00009", "-q")
    assert code == 2
    m = SHARD_BODY.match(str(receiver.requests[-1]["body"]))
    assert m is not None and m["failed"] == "1" and m["done"] == "0"
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    with contextlib.redirect_stderr(io.StringIO()):
        code = run_main("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00001", "-q")
    assert code == 0


@pytest.mark.parametrize("url", ["not a url", "pushgateway:9091", "http://[::1", "http://host:99999999",
                                 "http://host\n:9091"])
def test_a_malformed_gateway_url_is_a_warning_and_the_steps_succeed(planned, monkeypatch, url):
    store, exp = planned
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", url)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert run_main("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00000",
                        "--log-format", "json") == 0
        assert run_main("finalize", "--store", str(store), "--experiment", exp, "--log-format", "json") == 0
    warnings = [json.loads(line) for line in err.getvalue().splitlines() if '"warning"' in line]
    assert [w["message"].split(" failed: ")[0] for w in warnings] == ["pushgateway: push to " + url.rstrip("/") +
                                                                         f"/metrics/job/trading_runtime/experiment/{exp}"
                                                                         + tail for tail in ("/shard/shard-00000",
                                                                                             "/step/finalize")]


def test_credentials_in_the_gateway_url_are_never_logged(planned, monkeypatch):
    store, exp = planned
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", f"http://admin:SECRET@127.0.0.1:{free_port()}")
    for fmt in ("json", "text"):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            assert run_main("run-shard", "--store", str(store), "--experiment", exp, "--shard", "shard-00000",
                            "--log-format", fmt) == 0
        assert "SECRET" not in err.getvalue()
        assert "pushgateway: push to http://admin:***@127.0.0.1:" in err.getvalue()
