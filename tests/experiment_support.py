"""Helpers for the experiment tests (planning, CLI, determinism, faults): configs, CLI runs, store reads."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import ArtifactStore, read_complete

PARQUET = ROOT / "tests" / "data" / "parts" / "synthetic_1m.parquet"

# Environment that would make a step talk to something other than the test's store.
_INTEGRATION_ENV = ("PROMETHEUS_PUSHGATEWAY_URL", "MLFLOW_TRACKING_URI", "TRADING_RUNTIME_STRATEGY_PREFIXES")

BASE: dict[str, Any] = {
    "schema_version": 1,
    "id": "exp-test",
    "description": "12 SMA pairs × walk-forward on the first 4 days of the committed bars",
    # 2024-01-01 .. 2024-01-05 (exclusive): 5,760 one-minute bars
    "data": {"path": str(PARQUET), "timeframe": "1m", "end": "2024-01-05T00:00:00Z"},
    "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {}},
    "execution": {"initial_cash": 100000.0, "fee_bps": 1.0, "slippage_bps": 0.5},
    "seed": 7,
    "sweep": {"kind": "grid", "params": {"fast": [5, 10, 20], "slow": [30, 60, 90, 120]}},
    # t0 = bar 120 (auto warm-up: slow 120 needs 119 flat bars + the deciding bar); 5 folds
    "validation": {"kind": "walk_forward", "train": "1d", "test": "12h", "step": "12h"},
    "warmup_bars": "auto",
    "shards": {"runs_per_shard": 7},
    "objective": {"metric": "sharpe", "direction": "maximize", "constraints": {"min_trades": 3}},
    "report": {"top_k": 2},
}


_REPLACED = ("params", "sweep", "validation")


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: objects key by key, except params, sweep and validation (replaced
    whole); a None value deletes the key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and key not in _REPLACED:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def experiment_config(**overrides: Any) -> dict[str, Any]:
    return merge(BASE, overrides)


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INTEGRATION_ENV}
    env["PYTHONHASHSEED"] = "0"
    return {**env, **(extra or {})}


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
        **popen: Any) -> subprocess.CompletedProcess[str]:
    """``python -m trading_runtime ARGS`` from the repository root, in a real subprocess (JSON logs)."""
    return subprocess.run([sys.executable, "-m", "trading_runtime", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env or cli_env(), check=False, **popen)


def problem_lines(stderr: str) -> list[str]:
    """The stderr lines that are not JSON log records: what a user reads when a step fails."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("{")]


def read_json(store: ArtifactStore, key: str) -> Any:
    return json.loads(store.get_bytes(key))


def summary_bytes(store: ArtifactStore, experiment_id: str) -> bytes:
    return read_complete(store, ExperimentKeys(experiment_id).summary)


def sweep_in_process(tmp: Path, cfg: dict[str, Any], name: str, workers: int) -> tuple[str, bytes, ArtifactStore]:
    """Run ``sweep`` through the CLI entry in this process into a fresh store ``tmp/store-<name>``;
    (experiment id, summary.json bytes, the store)."""
    from trading_runtime.cli.main import main
    from trading_runtime.store import open_store

    path = write_json(tmp / f"{name}.json", cfg)
    store_dir = tmp / f"store-{name}"
    code = main(["sweep", "--config", str(path), "--store", str(store_dir), "--workers", str(workers),
                 "--log-format", "json", "-q"])
    assert code == 0
    store = open_store(str(store_dir))
    experiment_id = store.list_keys("experiments/")[0].split("/")[1]
    return experiment_id, summary_bytes(store, experiment_id), store


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``: its path relative to ``root`` -> its bytes (a store's whole content)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class QuietProgress:
    """A progress bar that shows nothing (``run_sweep``'s progress factory: ``lambda total, done: QuietProgress()``)."""

    def add(self, n: int, **fields: Any) -> None:
        pass

    def close(self) -> None:
        pass
