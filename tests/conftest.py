"""Shared fixtures: the repository root, a valid backtest config writer, a real S3 server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.s3_server import (
    MOTO_START_TIMEOUT_SECONDS,
    S3_BUCKET,
    SCRUBBED_ENV,
    HoldingProxy,
    ProxyServer,
    answers,
    free_port,
)

ROOT = Path(__file__).resolve().parents[1]
DATA_CSV = ROOT / "tests" / "data" / "parts" / "synthetic_1m.csv"
LOCAL_CONFIG = ROOT / "trading_runtime" / "local" / "local.json"


@pytest.fixture
def base_config() -> dict[str, Any]:
    """The shipped local config with an absolute data path (tests run from any cwd)."""
    cfg = json.loads(LOCAL_CONFIG.read_text())
    cfg["data"]["path"] = str(DATA_CSV)
    return copy.deepcopy(cfg)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[Any, str], Path]:
    def write(cfg: Any, name: str = "config.json") -> Path:
        p = tmp_path / name
        p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2))
        return p
    return write


@pytest.fixture
def update_golden() -> bool:
    """UPDATE_GOLDEN=1 rewrites golden files; refused under CI."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        if os.environ.get("CI"):
            pytest.fail("UPDATE_GOLDEN=1 is refused when CI is set: golden files change only by review")
        return True
    return False


# -- a real S3 server (moto's server mode) on 127.0.0.1 ---------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto server subprocess, stopped by its PID at the end."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto-server.log"
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
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
        while not answers(port):
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
    for name in SCRUBBED_ENV:
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


@pytest.fixture
def s3_proxy(s3_env: str, s3_bucket: str) -> Iterator[HoldingProxy]:
    """A recording proxy in front of the moto server (see HoldingProxy); point AWS_ENDPOINT_URL at
    ``proxy.endpoint`` to send a step's requests through it."""
    server = ProxyServer(s3_env)
    try:
        yield server.proxy
    finally:
        server.close()
