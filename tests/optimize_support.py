"""Helpers of the optimize tests: configs, a data-free study with a cheap synthetic objective, the CLI."""

from __future__ import annotations

import copy
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import ROOT
from trading_runtime.config.experiment import OBJECTIVE_METRICS, ExperimentConfig
from trading_runtime.optimize import StudyManifest, plan_study, trial_run_id
from trading_runtime.planning import DataRef

PARQUET = ROOT / "tests" / "data" / "parts" / "synthetic_1m.parquet"
EXAMPLE = ROOT / "trading_runtime" / "local" / "optimize.json"


def example_config() -> dict[str, Any]:
    cfg = json.loads(EXAMPLE.read_text())
    cfg["data"]["path"] = str(PARQUET)
    return cfg


def small_config(**sweep: Any) -> dict[str, Any]:
    """A quick search on 3 days of bars: holdout, 10 trials in 5 generations of 2."""
    cfg = example_config()
    cfg["id"] = "sma-small"
    cfg["data"]["end"] = "2024-01-04T00:00:00Z"
    cfg["validation"] = {"kind": "holdout", "test_fraction": 0.3}
    cfg["sweep"].update({"n_trials": 10, "batch_size": 2, "space": {
        "fast": {"type": "int", "low": 5, "high": 30}, "slow": {"type": "int", "low": 20, "high": 200, "log": True}}})
    cfg["sweep"]["constraints"] = {"min_trades": 1}
    cfg["sweep"].update(sweep)
    cfg["shards"] = {"runs_per_shard": 3}
    return cfg


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


# --------------------------------------------------------------------------------------------- data-free

DECLARED = {
    "x": {"type": "float", "low": -5.0, "high": 5.0, "choices": None},
    "y": {"type": "int", "low": -10.0, "high": 10.0, "choices": None},
    "mode": {"type": "categorical", "low": None, "high": None, "choices": ["a", "b"]},
}


def synthetic_config(**sweep: Any) -> ExperimentConfig:
    doc: dict[str, Any] = {
        "schema_version": 1, "id": "synthetic", "seed": 1,
        "data": {"path": "unused.parquet"},
        "strategy": {"class_path": "tests.fake:Strategy", "params": {}},
        "warmup_bars": 0,
        "validation": {"kind": "holdout", "test_fraction": 0.25},
        "sweep": {"kind": "optuna", "sampler": {"name": "random", "seed": 42}, "n_trials": 12, "batch_size": 4,
                  "space": {"x": {"type": "float", "low": -5.0, "high": 5.0, "step": 0.1},
                            "y": {"type": "int", "low": -10, "high": 10},
                            "mode": {"type": "categorical", "choices": ["a", "b"]}}},
    }
    for k, v in sweep.items():
        doc["sweep"][k] = v
    return ExperimentConfig.model_validate(doc)


def synthetic_manifest(config: ExperimentConfig | None = None, storage_format: str = "journal",
                       check: Callable[[dict[str, Any]], str | None] | None = None) -> StudyManifest:
    n = 1000
    ts = (np.arange(n, dtype=np.int64) + 28_401_000) * 60 * 1_000_000_000
    data = DataRef(path="unused.parquet", sha256="0" * 64, n_bars=n, first_ts=int(ts[0]), last_ts=int(ts[-1]),
                   timeframe="1m")
    return plan_study(config or synthetic_config(), "synthetic.json", data, ts, 60, DECLARED,
                      check or (lambda p: None), lambda p: 0, storage_format)  # type: ignore[arg-type]


def metrics(sharpe: float | None, n_trades: int = 10, max_drawdown: float = 0.1) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(OBJECTIVE_METRICS, 0.0)
    out.update(sharpe=sharpe, n_trades=n_trades, max_drawdown=max_drawdown, total_return=0.01)
    return out


def objective(params: dict[str, Any]) -> float:
    """A cheap smooth objective with its optimum at x = 1.3, y = -2, mode b."""
    return -((params["x"] - 1.3) ** 2) - 0.1 * (params["y"] + 2) ** 2 + (0.5 if params["mode"] == "b" else 0.0)


def synthetic_records(manifest: StudyManifest, trials: Any) -> dict[str, dict[str, Any]]:
    """Run records of ``trials`` (AskedTrial) on every fold, from :func:`objective`."""
    out = {}
    for a in trials:
        if a.invalid is not None:
            continue
        for f in manifest.folds:
            value = objective(a.params)
            out[trial_run_id(a.number, f.id)] = {
                "run_id": trial_run_id(a.number, f.id), "fold": f.id, "params": a.params,
                "in_sample": metrics(value), "out_of_sample": metrics(value / 2) if f.out_of_sample else None}
    return out


def finite(x: Any) -> bool:
    return isinstance(x, float) and math.isfinite(x)


# --------------------------------------------------------------------------------------------- CLI

def cli(*args: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    """``trading-runtime ARGS`` in this process: (exit code, stdout, stderr)."""
    from trading_runtime.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["--log-format", "json", *args])
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def cli_subprocess(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trading_runtime", "--log-format", "json", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=timeout)


def results(store: Path, study: str) -> dict[str, bytes]:
    folder = store / "optimize" / study / "results"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.json"))}


def deep(doc: Any) -> Any:
    return copy.deepcopy(doc)
