"""Where a result came from: package versions and commits (PEP 610 ``direct_url.json``), Python.

``package_provenance`` is the one function that reads an installed distribution's version and
commit; it is used for every manifest and by the test that installs the framework from a git pin.
"""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

KEY_PACKAGES = ("numpy", "numba", "pandas", "pyarrow", "pydantic", "optuna", "boto3")


def _git_commit(directory: Path) -> tuple[str | None, bool]:
    """(HEAD commit, dirty) of the git work tree holding ``directory``; (None, False) outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None, False
        status = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True, text=True, timeout=10, check=False,
        )
        return head.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, False


def package_provenance(
    dist_name: str, path: Iterable[str] | None = None, stamped_commit: str | None = None
) -> dict[str, Any]:
    """Version, commit and source of an installed distribution.

    The commit comes from PEP 610 ``direct_url.json``: ``vcs_info.commit_id`` for a ``git+…@sha``
    install; for a local directory install, the HEAD of the git work tree holding it (with
    ``dirty``); else ``stamped_commit`` (a build-time stamp such as TRADING_FRAMEWORK_COMMIT).
    ``path`` searches other sys.path-like locations (an install ``--target``).
    """
    query: dict[str, Any] = {"name": dist_name}
    if path is not None:
        query["path"] = list(path)
    dists = list(metadata.distributions(**query))
    if not dists:
        return {"name": dist_name, "version": None, "commit": stamped_commit, "source": "not installed"}
    dist = dists[0]
    info: dict[str, Any] = {"name": dist_name, "version": dist.version, "commit": None, "source": "index"}
    raw = dist.read_text("direct_url.json")
    if raw:
        direct: Mapping[str, Any] = json.loads(raw)
        url = str(direct.get("url", ""))
        vcs = direct.get("vcs_info")
        if isinstance(vcs, Mapping):
            info["commit"] = vcs.get("commit_id")
            info["source"] = f"{vcs.get('vcs', 'vcs')}+{url}"
            subdir = direct.get("subdirectory")
            if subdir:
                info["subdirectory"] = subdir
        elif url.startswith("file://"):
            local = Path(unquote(urlparse(url).path))
            commit, dirty = _git_commit(local) if local.is_dir() else (None, False)
            info["commit"] = commit
            info["source"] = "editable" if (direct.get("dir_info") or {}).get("editable") else "directory"
            if commit is not None:
                info["dirty"] = dirty
        else:
            info["source"] = url
    if info["commit"] is None and stamped_commit:
        info["commit"] = stamped_commit
        info["source"] += " (stamped commit)"
    return info


def environment_provenance() -> dict[str, Any]:
    """Python and key package versions."""
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "packages": versions}


def runtime_provenance(stamped_runtime_commit: str | None = None,
                       stamped_framework_commit: str | None = None) -> dict[str, Any]:
    return {
        "runtime": package_provenance("trading-runtime", stamped_commit=stamped_runtime_commit),
        "framework": package_provenance("trading-framework", stamped_commit=stamped_framework_commit),
        "environment": environment_provenance(),
    }
