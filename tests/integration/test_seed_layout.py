"""The original README's layout (issue 9 §5): synthetic bars in tests/data/parts/, the seed command's
results committed in tests/data/results/ (a rerun reproduces them byte for byte, its volatile files
are git-ignored), helper scripts in tests/data/scripts/, a dev container bootstrapped by
scripts/post-create.sh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT

RESULTS = "tests/data/results"
COMMITTED = ("equity.parquet", "stats.json", "trades.csv")
SEED = ["trading_runtime/local/backtest.py", "--config", "trading_runtime/local/local.json"]


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)


def test_seed_command_reproduces_the_committed_results_and_writes_nothing_else_to_git(tmp_path):
    """The simplest determinism check a user can run: the seed command, then `git status` stays clean."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "trading_runtime", copy / "trading_runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "data" / "parts", copy / "tests" / "data" / "parts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADING_RUNTIME_", "MLFLOW", "PROMETHEUS"))}
    proc = subprocess.run([sys.executable, *SEED, "--log-format", "json"], cwd=copy, capture_output=True,
                          text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(f"results: {copy / RESULTS}")

    written = sorted(p.name for p in (copy / RESULTS).iterdir())
    tracked = sorted(_git("ls-files", RESULTS).stdout.split())
    assert tracked == [f"{RESULTS}/{name}" for name in COMMITTED]
    for name in written:
        if name in COMMITTED:
            assert (copy / RESULTS / name).read_bytes() == (ROOT / RESULTS / name).read_bytes(), name
        else:  # meta.json (wall times), manifest.json and report.html (commits): volatile, ignored
            assert _git("check-ignore", "-q", f"{RESULTS}/{name}").returncode == 0, f"{name} is not git-ignored"
    assert set(COMMITTED) <= set(written) and "meta.json" in written


def test_synthetic_bars_live_in_parts_and_the_configs_use_them():
    assert sorted(_git("ls-files", "tests/data/parts").stdout.split()) == [
        "tests/data/parts/synthetic_1m.csv", "tests/data/parts/synthetic_1m.parquet"]
    assert _git("ls-files", "tests/data/bars").stdout == ""
    assert _git("ls-files", "tests/data/scripts/synthetic.py").stdout.strip() == "tests/data/scripts/synthetic.py"
    for name in ("local", "sweep", "optimize"):
        cfg = json.loads((ROOT / "trading_runtime" / "local" / f"{name}.json").read_text())
        assert cfg["data"]["path"].startswith("tests/data/parts/synthetic_1m."), name
    assert json.loads((ROOT / "trading_runtime" / "local" / "local.json").read_text())["output"]["dir"] == RESULTS


def test_dev_container_is_bootstrapped_by_post_create():
    doc = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert doc["postCreateCommand"] == "scripts/post-create.sh"
    script = ROOT / "scripts" / "post-create.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    assert "scripts/setup.sh" in script.read_text()  # the same .venv from the locks as the tests
