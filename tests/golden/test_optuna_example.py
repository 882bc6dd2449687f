"""The example search (trading_runtime/local/optimize.json, the README's demo) against golden results.

The golden files were checked when derived, and are re-checked here, against independent
computations: the best trial's in-sample and out-of-sample metrics with the plain-loop reference
simulator of framework/tests (no numpy, no trading_framework), and its probabilistic and deflated
Sharpe ratios by the formulas in plain Python from that reference's equity.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from statistics import NormalDist

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from tests.golden.golden_files import GOLDEN, check_golden
from trading_runtime.golden.compare import compare

sys.path.insert(0, str(ROOT / "framework" / "tests"))
from reference import metrics_reference, simulate_reference

pytestmark = pytest.mark.slow

CASE = GOLDEN / "optuna_example"
CONFIG = "trading_runtime/local/optimize.json"
NAMES = ["best_parameters.json", "metadata.json", "optimization_history.json", "param_importances.json",
         "performance_metrics.json"]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optuna-example")
    proc = subprocess.run(
        [sys.executable, "-m", "trading_runtime", "--log-format", "json", "optimize", "--config", CONFIG,
         "--store", str(tmp / "store"), "--workers", "2"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = proc.stdout.strip().removeprefix("file://")
    docs = {name: json.loads((tmp / folder / name).read_text()) for name in NAMES}
    actual = tmp / "actual"
    actual.mkdir()
    for name, doc in docs.items():
        # provenance names this checkout's commits: metadata, never golden
        kept = {k: v for k, v in doc.items() if k != "provenance"} if name == "metadata.json" else doc
        (actual / name).write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    return actual, docs


def test_results_match_the_golden_files(example, update_golden):
    actual, _ = example
    assert check_golden(CASE / "expected", actual, NAMES, update_golden) == []


def test_the_example_is_five_generations_of_eight_with_provenance(example):
    _, docs = example
    meta = docs["metadata.json"]
    assert (meta["n_trials"], meta["batch_size"], meta["generations"], meta["mode"]) == (40, 8, 5, "generations")
    assert meta["counts"]["trials"] == 40
    assert meta["provenance"]["runtime"]["version"] == "0.1.0"
    history = docs["optimization_history.json"]["trials"]
    assert [t["number"] for t in history] == list(range(40))
    assert [t["generation"] for t in history] == [n // 8 for n in range(40)]
    best = docs["best_parameters.json"]
    complete = [t for t in history if t["state"] == "COMPLETE"]
    assert best["values"] == [max(t["values"][0] for t in complete)]
    assert history[-1]["best_value_so_far"] == best["values"][0]


def _bars():
    table = pq.read_table(ROOT / "tests" / "data" / "parts" / "synthetic_1m.parquet")
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    ts_col = next(c for c in ("ts", "timestamp") if c in cols)
    ts = [int(v.timestamp() * 1_000_000_000) if hasattr(v, "timestamp") else int(v) for v in cols[ts_col]]
    return ts, cols["open"], cols["close"]


def _sma(values, window):
    return [math.nan if i + 1 < window else math.fsum(values[i + 1 - window:i + 1]) / window
            for i in range(len(values))]


def _reference_runs(docs):
    """(fold id, in-sample sim, out-of-sample sim, their bar times) of the best trial, by the plain-loop
    reference (the times of the bars given to each simulation, warm-up included)."""
    cfg = json.loads((ROOT / CONFIG).read_text())
    meta = docs["metadata.json"]
    params = docs["best_parameters.json"]["params"]
    ts, open_, close = _bars()
    index = {t: i for i, t in enumerate(ts)}
    warmup = meta["warmup_bars"]
    ex = cfg["execution"]
    out = []
    for fold in meta["folds"]:
        sims, times = [], []
        for seg in (fold["in_sample"], fold["out_of_sample"]):
            start, stop = index[seg["start_ts"]], index[seg["stop_ts"]] + 1
            w0 = max(0, start - warmup)
            c = close[w0:stop]
            fast, slow = _sma(c, params["fast"]), _sma(c, params["slow"])
            target = [1.0 if not (math.isnan(a) or math.isnan(b)) and a > b else 0.0
                      for a, b in zip(fast, slow, strict=True)]
            sims.append(simulate_reference(open_[w0:stop], c, target, initial_cash=ex["initial_cash"],
                                           fee_bps=ex["fee_bps"], slippage_bps=ex["slippage_bps"], max_leverage=1.0,
                                           allow_short=False, max_drawdown=None, start=start - w0))
            times.append(ts[w0:stop])
        out.append((fold["id"], sims[0], sims[1], times))
    return out


def test_the_best_trial_re_derived_with_the_plain_loop_reference(example):
    _, docs = example
    perf = docs["performance_metrics.json"]
    runs = _reference_runs(docs)
    bpy = 365 * 24 * 60
    for (fid, is_sim, oos_sim, (is_ts, oos_ts)), got_is, got_oos in zip(runs, perf["in_sample"]["folds"],
                                                                        perf["out_of_sample"]["folds"], strict=True):
        assert got_is["fold"] == got_oos["fold"] == fid
        assert compare(metrics_reference(is_sim, bpy, is_ts), got_is["metrics"]) == []
        assert compare(metrics_reference(oos_sim, bpy, oos_ts), got_oos["metrics"]) == []
    sharpes = [metrics_reference(is_sim, bpy, is_ts)["sharpe"] for _, is_sim, _, (is_ts, _) in runs]
    assert compare(docs["best_parameters.json"]["values"], [math.fsum(sharpes) / len(sharpes)]) == []


def test_psr_and_dsr_re_derived_by_hand(example):
    _, docs = example
    stats = docs["performance_metrics.json"]["selection_statistics"]
    returns = []
    for _, is_sim, _, _ in _reference_runs(docs):
        prev = is_sim.initial_cash
        for e in is_sim.equity:
            returns.append(e / prev - 1.0)
            prev = e
    n = len(returns)
    mu = math.fsum(returns) / n
    d = [r - mu for r in returns]
    m2 = math.fsum(x * x for x in d) / n
    sr = mu / math.sqrt(m2 * n / (n - 1))
    g3 = math.fsum(x ** 3 for x in d) / n / m2 ** 1.5
    g4 = math.fsum(x ** 4 for x in d) / n / m2 ** 2

    def psr(benchmark):
        return NormalDist().cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr))

    history = docs["optimization_history.json"]["trials"]
    per_bar = [t["in_sample_sharpe"] / math.sqrt(365 * 24 * 60) for t in history if t["in_sample_sharpe"] is not None]
    k = len(per_bar)
    mean = math.fsum(per_bar) / k
    var = math.fsum((s - mean) ** 2 for s in per_bar) / (k - 1)
    trials = len(history)
    z = NormalDist().inv_cdf
    sr0 = math.sqrt(var) * ((1 - 0.5772156649015329) * z(1 - 1 / trials)
                            + 0.5772156649015329 * z(1 - 1 / (trials * math.e)))
    assert stats["n_returns"] == n and stats["n_trials"] == trials == 40
    for key, value in [("sharpe_per_bar", sr), ("skewness", g3), ("kurtosis", g4), ("expected_max_sharpe", sr0),
                       ("sharpe_variance_across_trials", var), ("probabilistic_sharpe_ratio", psr(0.0)),
                       ("deflated_sharpe_ratio", psr(sr0))]:
        assert stats[key] == pytest.approx(value, rel=1e-9, abs=1e-15), key
    assert stats["deflated_sharpe_ratio"] < stats["probabilistic_sharpe_ratio"]
