"""Fixtures for the ArtifactStore contract suite: every backend, and a real S3 server on 127.0.0.1.

The S3 backend is exercised against moto's server mode started as a subprocess (no boto3 mocks),
plus a scripted HTTP server for the failures moto cannot produce (SlowDown, 5xx, AccessDenied).
Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trading_runtime.store import ArtifactStore, open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
S3_BUCKET = "contract-tests"
MOTO_START_TIMEOUT_SECONDS = 30.0

# Environment that could send boto3 elsewhere than the test server, or read the user's AWS setup.
_SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "TRADING_RUNTIME_S3_MAX_ATTEMPTS",
    "TRADING_RUNTIME_S3_BACKOFF_SECONDS",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto server subprocess, stopped by its PID at the end."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto-server.log"
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + MOTO_START_TIMEOUT_SECONDS
        while not _answers(port):
            if proc.poll() is not None:
                pytest.fail(f"moto server exited with {proc.returncode}: {log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto server did not answer on 127.0.0.1:{port}: {log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, 15)  # SIGTERM, by PID
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait(timeout=10)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, tmp_path: Path) -> str:
    """Point boto3's standard environment at the moto server; returns the endpoint URL."""
    for name in _SCRUBBED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "contract-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "contract-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return moto_endpoint


@pytest.fixture(scope="session")
def s3_bucket(moto_endpoint: str) -> str:
    """The bucket shared by the S3 tests (each test works under its own prefix)."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="contract-test-key",
        aws_secret_access_key="contract-test-secret",
    )
    client.create_bucket(Bucket=S3_BUCKET)
    return S3_BUCKET


def unique_name(request: pytest.FixtureRequest) -> str:
    """A name unique to the running test, stable across runs."""
    return "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """A fresh, empty store of each backend, opened through its URI as the CLI would."""
    if request.param == "memory":
        return open_store(f"memory://contract-{unique_name(request)}")
    if request.param == "local":
        return open_store("store", base_dir=tmp_path)
    request.getfixturevalue("s3_env")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/runs/{unique_name(request)}")


# -- a scripted S3 endpoint for failures moto does not produce -----------------------------------


@dataclass
class ScriptedS3:
    """An HTTP server on 127.0.0.1 that answers each request with the next scripted response.

    A script entry is ``(status, error_code)`` for an S3 error document, or ``(200, body)`` with
    ``body`` as bytes for success. When the script runs out the last entry repeats.
    """

    endpoint: str
    script: list[tuple[int, str | bytes]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)


def _scripted_handler(state: ScriptedS3) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with lock:
                state.requests.append((self.command, self.path))
                index = min(len(state.requests), len(state.script)) - 1
                status, what = state.script[index]
            if isinstance(what, bytes):
                body = what if self.command == "GET" else b""
                self.send_response(status)
                self.send_header("ETag", '"' + hashlib.md5(what).hexdigest() + '"')
            else:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{what}</Code><Message>scripted {what}</Message>"
                    "<RequestId>scripted</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    return Handler


@pytest.fixture
def scripted_s3(s3_env: str) -> Iterator[ScriptedS3]:
    """A :class:`ScriptedS3` server, with the S3 environment (credentials) set up."""
    state = ScriptedS3(endpoint="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _scripted_handler(state))
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="scripted-s3", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
