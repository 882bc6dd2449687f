"""Fixtures for the ArtifactStore contract suite: every backend, and a real S3 server on 127.0.0.1.

The S3 backend is exercised against moto's server mode started as a subprocess (no boto3 mocks),
plus a scripted HTTP server for the failures moto cannot produce (SlowDown, 5xx, AccessDenied).
Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.s3_server import S3_BUCKET, free_port, unique_name
from trading_runtime.store import ArtifactStore, open_store

__all__ = ["REPO_ROOT", "S3_BUCKET", "ScriptedS3", "free_port", "unique_name"]

REPO_ROOT = Path(__file__).resolve().parents[2]

# moto_endpoint, s3_env and s3_bucket are fixtures of tests/conftest.py (shared with the experiment tests).


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


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
