"""A real S3-compatible server for the tests: moto's server mode on 127.0.0.1, and a proxy in front of it.

The fixtures that use these live in ``tests/conftest.py`` (``moto_endpoint``, ``s3_env``, ``s3_bucket``,
``s3_proxy``). Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

S3_BUCKET = "contract-tests"
MOTO_START_TIMEOUT_SECONDS = 30.0

# Environment that could send boto3 elsewhere than the test server, or read the user's AWS setup.
SCRUBBED_ENV = (
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


def answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def unique_name(request: pytest.FixtureRequest) -> str:
    """A name unique to the running test, stable across runs."""
    return "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


# Headers that belong to one connection, not to the request or response being relayed.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                         "upgrade", "expect"})


@dataclass
class HoldingProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3 server: relays every request and records it.

    ``hold(suffix)``: the next PUT whose key ends with ``suffix`` is read in full but never forwarded
    nor answered (the client waits for a reply that does not come) and ``held`` is set, so a test can
    kill the writer while that write is in flight, deterministically. ``release()`` drops it.

    ``fail(method, pattern)``: every request with that method whose key contains ``pattern`` is answered
    ``503 ServiceUnavailable`` without being forwarded (an outage of one key kind), until ``fail_none()``.
    """

    upstream: str
    endpoint: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    _hold_suffix: str | None = None
    _fail: tuple[str, str] | None = None
    failed: list[str] = field(default_factory=list)
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, suffix: str) -> None:
        self._hold_suffix = suffix
        self.held.clear()
        self._release.clear()

    def release(self) -> None:
        self._hold_suffix = None
        self._release.set()

    def fail(self, method: str, pattern: str) -> None:
        self._fail = (method, pattern)

    def fail_none(self) -> None:
        self._fail = None

    def _should_fail(self, method: str, path: str) -> bool:
        rule = self._fail
        return rule is not None and method == rule[0] and rule[1] in urlsplit(path).path

    def puts(self) -> list[str]:
        """Paths of the PUT requests relayed or held so far."""
        with self._lock:
            return [path for method, path in self.requests if method == "PUT"]

    def _should_hold(self, method: str, path: str) -> bool:
        suffix = self._hold_suffix
        return suffix is not None and method == "PUT" and urlsplit(path).path.endswith(suffix)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _relay(self) -> None:
                body = self._body()
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                if proxy._should_hold(self.command, self.path):
                    proxy.held.set()
                    proxy._release.wait(timeout=120)
                    self.close_connection = True
                    return
                if proxy._should_fail(self.command, self.path):
                    with proxy._lock:
                        proxy.failed.append(f"{self.command} {self.path}")
                    self._answer_503()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response_only(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                    self.send_header("Content-Length", length or "0")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            def _answer_503(self) -> None:
                body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
                        b"<Message>injected by the test proxy</Message></Error>")
                self.send_response_only(503, "Service Unavailable")
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _relay

        return Handler


class ProxyServer:
    """Runs a :class:`HoldingProxy` on a thread; ``close()`` releases any held request and stops it."""

    def __init__(self, upstream: str) -> None:
        self.proxy = HoldingProxy(upstream)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.proxy.handler())
        self._server.daemon_threads = True
        self.proxy.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), name="s3-proxy",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.proxy.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
