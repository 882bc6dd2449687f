"""actionlint (with shellcheck) on .github/workflows/, hadolint on the Dockerfile, shellcheck on scripts/.

The tools come from requirements-dev (PyPI packages shipping the binaries). Missing tools skip these
tests on a developer's machine and fail them under CI, so CI never passes without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def tool(name: str) -> str:
    found = shutil.which(name, path=ENV["PATH"])
    if found is None:
        # requirements-dev.txt installs it (scripts/setup.sh): missing means the setup is broken
        pytest.fail(f"{name} not found (requirements-dev.txt installs it; run scripts/setup.sh)")
    return found


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120, check=False)


def test_actionlint_passes_on_the_github_workflows():
    tool("shellcheck")
    proc = run(tool("actionlint"), "-config-file", ".github/actionlint.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (ROOT / ".github" / "workflows").glob("*.yaml")) == [
        "deploy_argo_template.yaml", "tests.yaml"]


def test_actionlint_and_its_shellcheck_catch_planted_errors(tmp_path):
    tool("shellcheck")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "actionlint.yaml", tmp_path / ".github" / "actionlint.yaml")
    (tmp_path / ".github" / "workflows" / "bad.yaml").write_text(
        "on: push\n"
        "permissions:\n  contents: read\n"
        "jobs:\n  a:\n    needs: [build]\n    runs-on: ubuntu-24.04\n    steps:\n"  # no job "build"
        "      - run: ls $HOME/*.txt | xargs rm\n")                   # SC2086 via shellcheck
    proc = run(tool("actionlint"), "-config-file", ".github/actionlint.yaml", ".github/workflows/bad.yaml",
               cwd=tmp_path)
    assert proc.returncode == 1
    assert 'needs job "build" which does not exist' in proc.stdout, proc.stdout
    assert "shellcheck reported issue in this script: SC2086" in proc.stdout, proc.stdout


def test_actions_are_pinned_by_commit_sha_and_permissions_are_read_only():
    for path in (ROOT / ".github" / "workflows").glob("*.yaml"):
        text = path.read_text()
        uses = [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]
        assert uses, path.name
        for ref in uses:
            _, _, rest = ref.partition("@")
            sha = rest.split()[0]
            assert len(sha) == 40 and all(c in "0123456789abcdef" for c in sha), f"{path.name}: {ref}"
        assert "permissions:\n  contents: read\n" in text, path.name
        assert "write" not in text.split("jobs:", 1)[0], path.name


def test_hadolint_passes_on_the_dockerfile():
    proc = run(tool("hadolint"), "Dockerfile")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_planted_error(tmp_path):
    bad = (ROOT / "Dockerfile").read_text().replace("USER 10001:10001\n", "USER root\n")
    (tmp_path / "Dockerfile").write_text(bad)
    proc = run(tool("hadolint"), str(tmp_path / "Dockerfile"))
    assert proc.returncode == 1
    assert "DL3002" in proc.stdout  # last USER should not be root


def test_shellcheck_passes_on_the_scripts():
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("*.sh"))
    proc = run(tool("shellcheck"), *scripts)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_branch_namespace_is_prod_for_main_and_a_dns_label_otherwise():
    def ns(branch: str) -> str:
        proc = run("bash", "scripts/branch-namespace.sh", branch)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert ns("main") == "prod"
    assert ns("Feature/ABC_def..x") == "tr-feature-abc-def-x-22880f8e"
    assert ns("feature/abc-def-x") != ns("Feature/ABC_def..x")  # same sanitised name, other hash
    long = ns("x" * 300)
    assert len(long) <= 63 and long.startswith("tr-x")
