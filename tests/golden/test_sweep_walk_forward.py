"""The example experiment (trading_runtime/local/sweep.json: SMA grid × walk-forward) against its golden summary.

``test_sweep_matches_golden_summary`` runs the real CLI (``sweep`` into a temporary store, then
``validate``); UPDATE_GOLDEN=1 rewrites the golden summary from that run (refused when CI is set).

``test_golden_summary_equals_an_independent_plain_loop`` re-derives the committed golden file
without the runtime: the bars read with pyarrow, fold boundaries from the timestamps, SMAs as
``math.fsum`` over each window, the plain-loop reference simulator and metrics of framework/tests
(no numpy, no trading_framework), the constraints, the ranking and the walk-forward chaining done
here by hand. This is how the golden file was checked when it was derived.
"""

from __future__ import annotations

import bisect
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from tests.golden.golden_files import GOLDEN
from trading_runtime.golden.compare import compare

sys.path.insert(0, str(ROOT / "framework" / "tests"))
from reference import metrics_reference, simulate_reference

CONFIG_PATH = ROOT / "trading_runtime" / "local" / "sweep.json"
CONFIG = json.loads(CONFIG_PATH.read_text())
EXPECTED = GOLDEN / "sweep_walk_forward" / "expected"
DAY_NS = 86_400 * 10**9
BARS_PER_YEAR = 365 * 24 * 60


def test_sweep_matches_golden_summary(tmp_path: Path, update_golden: bool):
    store = tmp_path / "store"
    sweep = subprocess.run(
        [sys.executable, "-m", "trading_runtime", "sweep", "--config", "trading_runtime/local/sweep.json",
         "--store", str(store), "--workers", "2", "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert sweep.returncode == 0, sweep.stderr
    summary_uri = sweep.stdout.strip()
    assert summary_uri.startswith(store.as_uri() + "/experiments/sma-walk-forward-")
    results = summary_uri.removesuffix("/summary.json")
    if update_golden:
        EXPECTED.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(results.removeprefix("file://")) / "summary.json", EXPECTED / "summary.json")
    validate = subprocess.run(
        [sys.executable, "-m", "trading_runtime", "validate", "--results", results, "--golden", str(EXPECTED),
         "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout == f"validate: summary.json match {EXPECTED}\n"


# -- the independent re-derivation ------------------------------------------------------------------


def _sma(values: list[float], window: int) -> list[float]:
    return [math.nan if i + 1 < window else math.fsum(values[i + 1 - window:i + 1]) / window
            for i in range(len(values))]


def _grid() -> list[dict[str, int]]:
    p = CONFIG["sweep"]["params"]
    fast = list(range(p["fast"]["start"], p["fast"]["stop"] + 1, p["fast"]["step"]))
    return [{"fast": f, "slow": s} for f in fast for s in p["slow"] if f < s]  # SmaCross needs fast < slow


class Bars:
    def __init__(self) -> None:
        table = pq.read_table(ROOT / CONFIG["data"]["path"])
        self.ts = [int(t.value) for t in table.column("timestamp")]
        self.open = table.column("open").to_pylist()
        self.close = table.column("close").to_pylist()

    def backtest(self, params: dict[str, int], warmup_start: int, start: int, stop: int) -> dict[str, Any]:
        closes = self.close[warmup_start:stop]
        fast, slow = _sma(closes, params["fast"]), _sma(closes, params["slow"])
        target = [1.0 if (not math.isnan(a) and not math.isnan(b) and a > b) else 0.0
                  for a, b in zip(fast, slow, strict=True)]
        ex = CONFIG["execution"]
        sim = simulate_reference(self.open[warmup_start:stop], closes, target, initial_cash=ex["initial_cash"],
                                 fee_bps=ex["fee_bps"], slippage_bps=ex["slippage_bps"], max_leverage=1.0,
                                 allow_short=False, max_drawdown=None, start=start - warmup_start)
        return metrics_reference(sim, BARS_PER_YEAR, self.ts[warmup_start:stop])


# Figures compared with the plain loop at a looser tolerance than golden files (1e-9 relative, or
# 1e-12 absolute), because they are differences of nearly equal numbers, computed in a different
# order by the engine and by the loop: Sharpe/Sortino divide a nearly cancelling sum of thousands of
# returns (a Sharpe of ~0.5 over 5,760 bars), and total_return = final / cash - 1 near 0 keeps only
# the digits below 1.0; their last digits differ by ~1e-12 relative. CAGR and Calmar amplify both.
LOOSE = frozenset({"sharpe", "sortino", "cagr", "calmar", "total_return"})
LOOSE_REL = 1e-9
LOOSE_ABS = 1e-12


def reference_diffs(reference: Any, actual: Any) -> list[Any]:
    """compare() differences, except the LOOSE figures within LOOSE_REL (or LOOSE_ABS) of the reference."""
    out = []
    for d in compare(reference, actual):
        name = d.path.rsplit(".", 1)[-1]
        if name in LOOSE and isinstance(d.expected, float) and isinstance(d.actual, float):
            gap = abs(d.expected - d.actual)
            if gap <= LOOSE_REL * abs(d.expected) or gap <= LOOSE_ABS:
                continue
        out.append(d)
    return out


def _violations(metrics: dict[str, Any]) -> bool:
    c = CONFIG["objective"]["constraints"]
    return metrics["n_trades"] < c["min_trades"] or metrics["max_drawdown"] > c["max_drawdown"]


def test_golden_summary_equals_an_independent_plain_loop():
    golden = json.loads((EXPECTED / "summary.json").read_text())
    bars = Bars()
    grid = _grid()
    # warm-up: SmaCross(slow) is flat for its first slow - 1 bars, and the close of the last warm-up bar
    # decides the first scored position, so the largest slow (240) bars
    warmup = max(p["slow"] for p in grid)
    assert golden["warmup_bars"] == warmup
    assert golden["grid"]["n_combinations"] == 18 and golden["grid"]["n_valid"] == len(grid) == 17
    v = CONFIG["validation"]
    train, test, step = (int(v[k].removesuffix("d")) * DAY_NS for k in ("train", "test", "step"))
    t0 = bars.ts[warmup]
    data_end = bars.ts[-1] + 60 * 10**9
    folds = []
    k = 0
    while t0 + k * step + train + test <= data_end:
        is_start, is_end = t0 + k * step, t0 + k * step + train
        folds.append(tuple(bisect.bisect_left(bars.ts, t) for t in (is_start, is_end, is_end + test)))
        k += 1
    assert len(golden["folds"]) == len(folds) == 4
    assert golden["runs"] == {"expected": 68, "completed": 68, "failed": 0, "missing": 0}

    cash = CONFIG["execution"]["initial_cash"]
    chained = 1.0
    is_log = oos_log = 0.0
    for (i0, i1, i2), fold, row in zip(folds, golden["folds"], golden["walk_forward"]["folds"], strict=True):
        assert fold["in_sample"] == {"start_ts": bars.ts[i0], "stop_ts": bars.ts[i1 - 1], "n_bars": i1 - i0}
        assert fold["out_of_sample"] == {"start_ts": bars.ts[i1], "stop_ts": bars.ts[i2 - 1], "n_bars": i2 - i1}
        in_sample = {tuple(p.values()): bars.backtest(p, i0 - warmup, i0, i1) for p in grid}
        eligible = {p: m for p, m in in_sample.items() if not _violations(m) and m["sharpe"] is not None}
        ranked = sorted(eligible, key=lambda p: -eligible[p]["sharpe"])
        sharpes = [eligible[p]["sharpe"] for p in ranked]
        assert len(set(sharpes[:4])) == 4  # no ties near the top: the order is the objective's alone
        assert fold["ranked"] == len(eligible)
        assert fold["excluded_by_constraints"] == sum(1 for m in in_sample.values() if _violations(m))
        board = fold["leaderboard"]
        assert [tuple(e["params"].values()) for e in board] == ranked[:CONFIG["report"]["top_k"]]
        for entry in board:
            assert reference_diffs(in_sample[tuple(entry["params"].values())], entry["in_sample"]) == []
            assert entry["objective"] == entry["in_sample"]["sharpe"]
        best = ranked[0]
        oos = bars.backtest(dict(zip(("fast", "slow"), best, strict=True)), i1 - warmup, i1, i2)
        assert reference_diffs(oos, board[0]["out_of_sample"]) == []
        assert row["run_id"] == board[0]["run_id"]
        assert reference_diffs({"in_sample": in_sample[best], "out_of_sample": oos},
                               {"in_sample": row["in_sample"], "out_of_sample": row["out_of_sample"]}) == []
        chained *= oos["final_equity"] / cash
        is_log += math.log(1 + in_sample[best]["total_return"])
        oos_log += math.log(1 + oos["total_return"])

    stitched = golden["walk_forward"]["stitched_out_of_sample"]
    assert stitched["n_bars"] == sum(i2 - i1 for _, i1, i2 in folds)
    assert compare({"final_equity": cash * chained, "total_return": chained - 1},
                   {"final_equity": stitched["final_equity"], "total_return": stitched["total_return"]}) == []
    # walk-forward efficiency is null when the winners' pooled in-sample log growth is not positive
    assert (is_log <= 0) == (golden["walk_forward"]["walk_forward_efficiency"] is None)
    if is_log > 0:
        is_bars = sum(i1 - i0 for i0, i1, _ in folds)
        wfe = (oos_log / stitched["n_bars"]) / (is_log / is_bars)
        assert compare({"ratio": wfe}, {"ratio": golden["walk_forward"]["walk_forward_efficiency"]}) == []


@pytest.mark.parametrize("name", ["summary.json"])
def test_golden_files_are_canonical_json(name: str):
    raw = (EXPECTED / name).read_bytes()
    assert raw.endswith(b"\n") and b"NaN" not in raw and b"Infinity" not in raw
    doc = json.loads(raw)
    assert raw.decode() == json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
