"""``data.bars_per_year`` overrides the calendar annualisation: a daily-bars backtest with 252 has the
default run's Sharpe × sqrt(252/365), in the backtest, in an experiment's shard results, and it is recorded
in the manifest and the plan (left out when not set). CAGR does not take it: it compounds over the calendar
days from the first bar to the last."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.experiment_support import cli, experiment_config, problem_lines, write_json
from trading_runtime.store import open_store

pytestmark = pytest.mark.slow

STRATEGY = {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {"fast": 5, "slow": 20}}


def _daily_csv(path: Path) -> Path:
    """400 daily bars of a seeded random walk, as a pandas export writes them (date column, no time)."""
    rng = np.random.default_rng(12)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, 400)))
    days = np.datetime64("2022-01-03") + np.arange(400)
    lines = ["date,open,high,low,close,volume"]
    for d, c in zip(days, close.tolist(), strict=True):
        o = c * 0.999
        lines.append(f"{d},{o!r},{max(o, c) * 1.004!r},{min(o, c) * 0.996!r},{c!r},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def _backtest(tmp: Path, name: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = write_json(tmp / f"{name}.json", {"schema_version": 1, "id": name, "data": data, "strategy": STRATEGY,
                                                "seed": 1, "output": {"dir": str(tmp / name)}})
    done = cli("backtest", "--config", str(config))
    assert done.returncode == 0, done.stderr
    return (json.loads((tmp / name / "stats.json").read_text()),
            json.loads((tmp / name / "manifest.json").read_text()))


def test_a_daily_backtest_with_bars_per_year_252_scales_sharpe_by_sqrt_252_over_365(tmp_path: Path):
    bars = _daily_csv(tmp_path / "daily.csv")
    default, default_manifest = _backtest(tmp_path, "calendar", {"path": str(bars)})
    trading, trading_manifest = _backtest(tmp_path, "trading", {"path": str(bars), "bars_per_year": 252})
    assert default["n_trades"] > 0 and default["sharpe"] != 0
    assert trading["sharpe"] == pytest.approx(default["sharpe"] * math.sqrt(252 / 365), rel=1e-12)
    assert trading["sortino"] == pytest.approx(default["sortino"] * math.sqrt(252 / 365), rel=1e-12)
    assert trading["total_return"] == default["total_return"]  # only annualised figures change
    # CAGR: 400 consecutive days from 2022-01-03 to 2023-02-06 span 399 days, whatever bars_per_year says
    growth = default["final_equity"] / 100_000
    assert default["cagr"] == pytest.approx(growth ** (365 / 399) - 1, rel=1e-12)
    assert (trading["cagr"], trading["calmar"]) == (default["cagr"], default["calmar"])
    assert trading_manifest["data"]["bars_per_year"] == 252
    assert "bars_per_year" not in default_manifest["data"]


def _shard_sharpes(tmp: Path, name: str, data: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    cfg = experiment_config(data=data, store=str(tmp / name), validation={"kind": "full"}, warmup_bars=20,
                            sweep={"kind": "grid", "params": {"fast": [3, 5], "slow": [10, 20]}},
                            objective={"metric": "sharpe", "direction": "maximize"})
    done = cli("sweep", "--config", str(write_json(tmp / f"{name}.json", cfg)))
    assert done.returncode == 0, done.stderr
    store = open_store(str(tmp / name))
    sharpes: dict[str, float] = {}
    plan: dict[str, Any] = {}
    for key in store.list_keys("experiments/"):
        if key.endswith("/result.json"):
            sharpes.update({r["run_id"]: r["in_sample"]["sharpe"] for r in json.loads(store.get_bytes(key))["runs"]})
        if key.endswith("/plan.json"):
            plan = json.loads(store.get_bytes(key))
    return sharpes, plan


def test_an_experiment_annualises_its_shard_metrics_with_bars_per_year(tmp_path: Path):
    bars = str(_daily_csv(tmp_path / "daily.csv"))
    default, default_plan = _shard_sharpes(tmp_path, "calendar", {"path": bars, "end": None, "timeframe": "1d"})
    trading, trading_plan = _shard_sharpes(tmp_path, "trading", {"path": bars, "end": None, "timeframe": "1d",
                                                                 "bars_per_year": 252})
    assert sorted(default) == sorted(trading) and len(default) == 4
    for run_id, sharpe in default.items():
        assert trading[run_id] == pytest.approx(sharpe * math.sqrt(252 / 365), rel=1e-12)
    assert trading_plan["data"]["bars_per_year"] == 252
    assert "bars_per_year" not in default_plan["data"]


def test_compare_refuses_sides_that_annualise_differently(tmp_path: Path):
    bars = str(_daily_csv(tmp_path / "daily.csv"))
    _backtest(tmp_path, "calendar", {"path": bars})
    _backtest(tmp_path, "trading", {"path": bars, "bars_per_year": 252})
    done = cli("compare", str(tmp_path / "calendar"), str(tmp_path / "trading"), "--output-dir", str(tmp_path / "ab"))
    lines = problem_lines(done.stderr)
    assert done.returncode == 2, done.stderr
    assert lines == ["compare: A and B annualise differently: data.bars_per_year not set vs 252"], lines
