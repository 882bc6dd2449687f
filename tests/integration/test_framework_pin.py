"""The framework installed from a git pin reports its version and commit through provenance."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from trading_runtime.provenance import package_provenance

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _framework_repo(repo: Path) -> str:
    """A git repository holding a copy of framework/ in one commit; that commit."""
    shutil.copytree(ROOT / "framework", repo / "framework",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "tests", "*.nbi", "*.nbc"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "framework")
    return _git(repo, "rev-parse", "HEAD")


def _pip_install_target(target: Path, requirement: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target), requirement],
        check=True, capture_output=True, text=True, env=GIT_ENV,
    )


def test_git_pinned_framework_install_reads_back_version_and_commit(tmp_path):
    repo = tmp_path / "framework-repo"
    sha = _framework_repo(repo)
    # A later commit: the pin must select the first one, not the branch head.
    (repo / "framework" / "EXTRA.txt").write_text("later\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "later")
    assert _git(repo, "rev-parse", "HEAD") != sha

    target = tmp_path / "target"
    _pip_install_target(target, f"git+file://{repo}@{sha}#subdirectory=framework")
    info = package_provenance("trading-framework", path=[str(target)])
    assert info["version"] == "0.2.0"
    assert info["commit"] == sha
    assert info["source"] == f"git+file://{repo}"
    assert info["subdirectory"] == "framework"
    assert (target / "trading_framework" / "execution.py").is_file()


def test_install_script_refuses_repo_without_commit(tmp_path):
    env = {**os.environ, "TRADING_FRAMEWORK_REPO": "file:///nowhere", "TRADING_FRAMEWORK_COMMIT": ""}
    proc = subprocess.run([str(ROOT / "scripts" / "install-framework.sh"), sys.executable],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "TRADING_FRAMEWORK_REPO is set but TRADING_FRAMEWORK_COMMIT is empty" in proc.stderr


def test_directory_install_reads_the_commit_of_its_work_tree_and_falls_back_to_the_stamp_only_outside_git(tmp_path):
    """A directory install (what install-framework.sh does for a pinned commit of this repository, and
    editable in development) reports the HEAD of the git work tree holding it, ``dirty`` when the
    tree has changed since, and the stamp only when no git commit can be read."""
    repo = tmp_path / "checkout"
    sha = _framework_repo(repo)
    target = tmp_path / "target"
    _pip_install_target(target, str(repo / "framework"))
    stamp = "f" * 40
    info = package_provenance("trading-framework", path=[str(target)], stamped_commit=stamp)
    assert (info["version"], info["commit"], info["source"], info["dirty"]) == ("0.2.0", sha, "directory", False)

    (repo / "framework" / "README.md").write_text("changed after the install\n")
    info = package_provenance("trading-framework", path=[str(target)], stamped_commit=stamp)
    assert (info["commit"], info["dirty"]) == (sha, True)

    shutil.rmtree(repo / ".git")  # the same install, no longer inside a git work tree
    info = package_provenance("trading-framework", path=[str(target)], stamped_commit=stamp)
    assert (info["commit"], info["source"]) == (stamp, "directory (stamped commit)")
    assert "dirty" not in info
    info = package_provenance("trading-framework", path=[str(target)])
    assert info["commit"] is None

