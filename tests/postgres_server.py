"""A throwaway PostgreSQL server on 127.0.0.1 for the Optuna RDB tests (Debian's server binaries).

``scripts/install-postgres.sh`` installs them (``.ci/run`` calls it). Without them the tests FAIL
rather than skip: CI must exercise a real server. Under root the server runs as the ``postgres``
OS user (PostgreSQL refuses to run as root); its data and socket live in a fresh folder under
/tmp, removed afterwards, and it is stopped with ``pg_ctl stop`` whatever the test did.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server(database: str = "optuna") -> Iterator[str]:
    """Start a server, create ``database``, yield its URL, stop the server."""
    bindir = _bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run "
                    "scripts/install-postgres.sh as root (.ci/run does)")
    base = Path(tempfile.mkdtemp(prefix="trading-runtime-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    port = _free_port()

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n{server_log}")

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-h 127.0.0.1 -p {port} -k {base} -F -c fsync=off -c max_connections=40"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start")
        started = True
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)
