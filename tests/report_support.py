"""Helpers for the report, compare, logging and integration tests: small experiments in a temporary store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

DATA_CSV = ROOT / "tests" / "data" / "parts" / "synthetic_1m.csv"
SWEEP_CONFIG = ROOT / "trading_runtime" / "local" / "sweep.json"
OPTIMIZE_CONFIG = ROOT / "trading_runtime" / "local" / "optimize.json"
LOCAL_CONFIG = ROOT / "trading_runtime" / "local" / "local.json"


def experiment_config(directory: Path, *, name: str = "report-test", validation: dict[str, Any] | None = None,
                      params: dict[str, Any] | None = None, runs_per_shard: int = 4, top_k: int = 3) -> Path:
    """A small SMA grid on the committed 1-minute bars (absolute data path), written to ``directory``."""
    cfg = json.loads(SWEEP_CONFIG.read_text())
    cfg["id"] = name
    cfg["data"]["path"] = str(DATA_CSV)
    cfg["sweep"]["params"] = params or {"fast": [10, 20, 30], "slow": [60, 120]}
    cfg["validation"] = validation or {"kind": "holdout", "test_fraction": 0.3}
    cfg["shards"]["runs_per_shard"] = runs_per_shard
    cfg["report"]["top_k"] = top_k
    cfg["store"] = str(directory / "store")
    path = directory / f"{name}.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m trading_runtime ARGS`` from the repository root, in a real subprocess."""
    full_env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "trading_runtime", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env, check=False)


def run_main(*args: str) -> int:
    """The CLI in-process (faster than a subprocess where the test needs no process boundary).

    ``main`` configures the root logger; pytest's own handlers and the level are put back after.
    """
    import logging

    from trading_runtime.cli.main import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return main([*args])
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


def experiment_id_of(plan_stderr: str) -> str:
    """The id from ``plan``'s first stderr line: ``experiment <id>``."""
    first = next(line for line in plan_stderr.splitlines() if line.startswith("experiment "))
    return first.split()[1]


def sweep(config: Path, store: Path) -> str:
    """Run the local all-in-one in-process with one worker; returns the experiment id."""
    import contextlib
    import io

    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main("sweep", "--config", str(config), "--store", str(store), "--workers", "1", "-q")
    assert code == 0, err.getvalue()
    return experiment_id_of(err.getvalue())


def study_config(directory: Path, *, name: str = "study", objectives: list[dict[str, str]] | None = None) -> Path:
    """A quick Optuna search (10 trials in 5 generations of 2) on 3 days of the committed bars, holdout."""
    cfg = json.loads(OPTIMIZE_CONFIG.read_text())
    cfg["id"] = name
    cfg["data"]["path"] = str(ROOT / cfg["data"]["path"])
    cfg["data"]["end"] = "2024-01-04T00:00:00Z"
    cfg["validation"] = {"kind": "holdout", "test_fraction": 0.3}
    cfg["sweep"].update({"n_trials": 10, "batch_size": 2, "constraints": {"min_trades": 1},
                         "space": {"fast": {"type": "int", "low": 5, "high": 30},
                                   "slow": {"type": "int", "low": 20, "high": 200, "log": True}}})
    if objectives:
        cfg["sweep"]["objectives"] = objectives
    cfg["shards"] = {"runs_per_shard": 3}
    cfg["store"] = str(directory / "store")
    path = directory / f"{name}.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def optimize(config: Path, store: Path) -> str:
    """Run an Optuna study in-process (local all-in-one, one worker); returns its results URI."""
    import contextlib
    import io

    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main("optimize", "--config", str(config), "--store", str(store), "--workers", "1", "-q")
    assert code == 0, err.getvalue()
    return out.getvalue().strip().splitlines()[-1]
