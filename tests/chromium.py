"""A small headless-Chromium driver for tests: the DevTools protocol over ``--remote-debugging-pipe``.

Standard library only. Chromium reads commands from its fd 3 and writes replies and events to fd 4,
each message a JSON object terminated by NUL; the pipes are handed over through ``bash`` so that
they land on exactly those descriptors. The page is opened from a ``file://`` URL in a fresh
profile with every background-networking feature off; console messages, uncaught exceptions, log
entries (CSP violations, failed loads) and every network request are recorded for the test.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    pass


@dataclass
class PageRecord:
    """What happened while a page loaded."""

    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded
    requests: list[str] = field(default_factory=list)  # URLs of Network.requestWillBeSent

    def errors(self) -> list[str]:
        out = [f"console.{c['type']}: {_args_text(c)}" for c in self.console if c["type"] in ("error", "assert")]
        out += [f"exception: {e['exceptionDetails'].get('text')} "
                f"{e['exceptionDetails'].get('exception', {}).get('description', '')}" for e in self.exceptions]
        out += [f"log {e['entry']['level']} ({e['entry']['source']}): {e['entry']['text']}" for e in self.log
                if e["entry"]["level"] == "error"]
        return out


def _args_text(call: dict[str, Any]) -> str:
    return " ".join(str(a.get("value", a.get("description", ""))) for a in call.get("args", []))


def _high_fd(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Chromium:
    """``with Chromium() as browser: record = browser.open(path); browser.evaluate(js); browser.screenshot()``."""

    def __init__(self, binary: str = CHROMIUM, width: int = 1280, height: int = 900, timeout: float = 30.0) -> None:
        if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
            raise BrowserError(f"{binary} not found: install Debian's chromium (scripts/install-chromium.sh)")
        self.binary, self.width, self.height, self.timeout = binary, width, height, timeout
        self._buf = b""
        self._id = 0
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None
        self.stderr_path: Path | None = None

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        r_cmd, self._w_cmd = os.pipe()
        self._r_res, w_res = os.pipe()
        r_cmd, w_res = _high_fd(r_cmd), _high_fd(w_res)
        self.stderr_path = Path(self._profile) / "stderr.log"
        self._stderr = self.stderr_path.open("wb")
        args = [*FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}", "about:blank"]
        env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy", "HTTP_PROXY",
                                                                 "HTTPS_PROXY")}
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{r_cmd} 4>&{w_res} {r_cmd}<&- {w_res}>&-', self.binary, *args],
            pass_fds=(r_cmd, w_res), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            env=env,
        )
        os.close(r_cmd)
        os.close(w_res)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(BrowserError, OSError, TimeoutError):
                    self.call("Browser.close", session=False, timeout=5)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._w_cmd, self._r_res):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol ---------------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
             timeout: float | None = None) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session is not None:
            msg["sessionId"] = self.session
        os.write(self._w_cmd, json.dumps(msg).encode() + b"\0")
        want = self._id
        reply = self._wait(lambda m: m.get("id") == want, timeout)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def _wait(self, pred: Any, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                msg = json.loads(raw)
                if pred(msg):
                    return msg
                self._events.append(msg)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from Chromium in time (stderr: {self._stderr_tail()})")
            ready, _, _ = select.select([self._r_res], [], [], left)
            if ready:
                chunk = os.read(self._r_res, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed the pipe (stderr: {self._stderr_tail()})")
                self._buf += chunk

    def _stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:] if self.stderr_path else ""
        except OSError:
            return ""

    # -- pages ------------------------------------------------------------------------------------
    def open(self, path: Path, settle: float = 0.3) -> PageRecord:
        """Navigate to ``path`` as a file:// URL and wait for its load event; returns what was recorded."""
        self._events.clear()
        url = path.resolve().as_uri()
        nav = self.call("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise BrowserError(f"navigate {url}: {nav['errorText']}")
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")
        end = time.monotonic() + settle  # let late console/log events arrive
        while time.monotonic() < end:
            try:
                self._wait(lambda m: False, timeout=max(end - time.monotonic(), 0.01))
            except TimeoutError:
                break
        record = PageRecord()
        for ev in self._events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled":
                record.console.append(params)
            elif method == "Runtime.exceptionThrown":
                record.exceptions.append(params)
            elif method == "Log.entryAdded":
                record.log.append(params)
            elif method == "Network.requestWillBeSent":
                record.requests.append(params["request"]["url"])
        return record

    def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page and return its JSON-able value."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise BrowserError(f"evaluate: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 20000) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.width,
                              "height": min(float(size["height"]), max_height), "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
