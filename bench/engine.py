"""Engine benchmark: the framework against a single-pass compiled "floor" (see bench/README.md).

    .venv/bin/python bench/engine.py            # 1,000,000 one-minute bars
    .venv/bin/python bench/engine.py --quick    # 100,000 bars, fewer repeats (smoke run)

Prints figures (it is not a test): one backtest, a 100-pair sweep (the pairs SmaCross.Params
rejects, fast >= slow, are counted and skipped), the sweep's peak RSS and the cold start of a fresh
interpreter, each for the engine and for the floor (bench/floor.py), and the table of targets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import make_bars  # noqa: E402
from workloads import SINGLE, engine_backtest, floor_backtest, grid, max_rel_diff, save_bars  # noqa: E402

AGREE_RTOL = 1e-9
TARGET_BACKTEST_RATIO = 2.0
TARGET_SWEEP_RATIO = 1.0  # issue 13: the library sweep in at most the per-run loop's time
TARGET_RSS_MB = 500.0
TARGET_COLD_S = 1.5
# glibc malloc settings under which freed big arrays stay in the heap instead of going back to the
# OS (fixed thresholds: no mmap for blocks < 32 MiB, no trimming below 256 MiB free at the top).
# The engine's children apply the runtime's allocator setting (trading_runtime/cli/allocator.py) as
# every trading-runtime command does; this env runs them with glibc's defaults instead, for information.
GLIBC_DEFAULTS = {"BENCH_GLIBC_DEFAULTS": "1"}


def child(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], int]:
    """Run ``child.py *args`` in a fresh interpreter: (its JSON line, monotonic ns just before spawn)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | (env or {})
    t0 = time.monotonic_ns()
    proc = subprocess.run([sys.executable, str(HERE / "child.py"), *args],
                          capture_output=True, text=True, check=False, env=full_env)
    if proc.returncode != 0:
        raise RuntimeError(f"child.py {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), t0


def ms(s: float) -> str:
    return f"{s * 1e3:.1f} ms"


def sec(s: float) -> str:
    return f"{s:.3f} s"


def spread(times: list[float], unit: Any = ms) -> str:
    return f"best {unit(min(times))} median {unit(statistics.median(times))}"


def check_agreement(bars: Any, combos: list[tuple[int, int]]) -> bool:
    """Engine and floor metrics side by side; on a disagreement, look for its cause."""
    worst, worst_name, worst_combo = 0.0, "", SINGLE
    for fast, slow in combos:
        d, name = max_rel_diff(engine_backtest(bars, fast, slow), floor_backtest(bars, fast, slow))
        if d >= worst:
            worst, worst_name, worst_combo = d, name, (fast, slow)
    e1, f1 = engine_backtest(bars, *SINGLE), floor_backtest(bars, *SINGLE)
    print(f"\nengine vs floor at fast/slow {SINGLE[0]}/{SINGLE[1]}:")
    for key in ("final_equity", "n_trades", "sharpe"):
        d, _ = max_rel_diff({key: e1[key]}, {key: f1[key]})
        print(f"  {key:<13} engine {e1[key]!r:<24} floor {f1[key]!r:<24} rel diff {d:.1e}")
    agree = worst <= AGREE_RTOL
    print(f"  all 14 metrics x {len(combos)} pairs: max rel diff {worst:.1e} ({worst_name} at "
          f"{worst_combo[0]}/{worst_combo[1]}) -> {'AGREE' if agree else 'DISAGREE'} (tolerance {AGREE_RTOL:g})")
    if not agree:
        diagnose(bars, *worst_combo)
    return agree


def diagnose(bars: Any, fast: int, slow: int) -> None:
    """Say whether a disagreement comes from the SMAs (hence the targets) or from the simulation."""
    import numpy as np
    from floor import floor_sma

    from trading_framework import FeatureCache
    from trading_runtime.strategies.sma_cross import SmaCross

    features = FeatureCache(bars)
    for w in (fast, slow):
        a, b = features.sma(w), floor_sma(bars.close, w)
        bad = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
        print(f"  diagnosis: SMA({w}) engine vs floor recurrence: {len(bad)} bars differ"
              + (f", first at bar {bad[0]}: {a[bad[0]]!r} vs {b[bad[0]]!r}" if len(bad) else ""))
    target = SmaCross(SmaCross.Params(fast=fast, slow=slow)).target(bars, features)
    floor_target = np.greater(floor_sma(bars.close, fast), floor_sma(bars.close, slow)).astype(np.float64)
    bad = np.flatnonzero(target != floor_target)
    print(f"  diagnosis: targets differ at {len(bad)} bars"
          + (" -> the SMA arithmetic differs (update bench/floor.py to features._rolling_mean)" if len(bad)
             else " -> same targets: the simulation or the metrics differ (compare with framework/README.md)"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 bars and fewer repeats (smoke run)")
    ap.add_argument("--bars", type=int, help="number of bars (default 1,000,000; 100,000 with --quick)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--data", choices=("auto", "project", "gbm"), default="auto",
                    help="bars generator: tests/data/scripts/synthetic.py (project; auto = if present) or bench's GBM")
    ap.add_argument("--repeats", type=int, help="timed repeats of one backtest (default 20; 5 quick)")
    ap.add_argument("--sweep-repeats", type=int, help="timed repeats of the sweep (default 3; 1 quick)")
    ap.add_argument("--cold-runs", type=int, help="timed cold starts (default 7; 3 quick)")
    ap.add_argument("--no-glibc-defaults", action="store_true", help="skip the glibc-defaults info runs")
    args = ap.parse_args()
    n_bars = args.bars or (100_000 if args.quick else 1_000_000)
    repeats = str(args.repeats or (5 if args.quick else 20))
    sweep_repeats = str(args.sweep_repeats or (1 if args.quick else 3))
    cold_runs = args.cold_runs or (3 if args.quick else 7)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; SmaCross, default ExecutionSpec, timeframe 60 s")
    t0 = time.perf_counter()
    bars, source = make_bars(n_bars, args.seed, args.data)
    print(f"bars: {source} in {time.perf_counter() - t0:.2f} s (close {bars.close[0]:.2f} -> {bars.close[-1]:.2f})")
    combos, invalid = grid()
    print(f"grid fast 5..50 step 5 x slow 20..200 step 20 = {len(combos) + len(invalid)} pairs: {len(combos)} "
          f"valid, {len(invalid)} rejected by SmaCross.Params (fast >= slow): "
          + " ".join(f"{f}/{s}" for f, s in invalid))
    agree = check_agreement(bars, combos)
    print_breakdown(bars)

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        data = str(Path(tmp) / "bars.npz")
        save_bars(bars, Path(data))
        del bars
        print(f"\nbars written to {data}; every measure below runs in a fresh interpreter loading it")
        # a) one backtest, b) + c) the sweep and its peak RSS
        bt = {w: child("backtest", w, data, repeats)[0] for w in ("engine", "floor")}
        sw = {w: child("sweep", w, data, sweep_repeats)[0] for w in ("engine", "floor")}
        print(f"a) one backtest {SINGLE[0]}/{SINGLE[1]} incl. SMAs and metrics, {repeats} repeats after a warm-up: "
              f"engine {spread(bt['engine']['times_s'])} (cpu best {ms(min(bt['engine']['cpu_s']))}, "
              f"{bt['engine']['faults_per_call']:.0f} page faults/run); floor {spread(bt['floor']['times_s'])} "
              f"(cpu best {ms(min(bt['floor']['cpu_s']))})")
        print(f"b) sweep of {len(combos)} runs, one FeatureCache, {sweep_repeats} repeats after a warm-up: "
              f"engine {spread(sw['engine']['times_s'], sec)} (cpu best {sec(min(sw['engine']['cpu_s']))}, "
              f"{sw['engine']['faults_per_call']:.0f} page faults/sweep); floor {spread(sw['floor']['times_s'], sec)} "
              f"(cpu best {sec(min(sw['floor']['cpu_s']))})")
        print(f"c) peak RSS of the sweep process (VmHWM): engine {sw['engine']['peak_rss_mb']:.0f} MB, floor "
              f"{sw['floor']['peak_rss_mb']:.0f} MB (ru_maxrss {sw['engine']['ru_maxrss_mb']:.0f} / "
              f"{sw['floor']['ru_maxrss_mb']:.0f} MB: inherited from this parent at spawn, see README)")
        # d) cold start
        child("cold", "engine", data)  # fills (or validates) numba's on-disk cache
        child("cold", "floor", data)
        cold = {w: [cold_start(w, data) for _ in range(cold_runs)] for w in ("engine", "floor")}
        med = {w: statistics.median(c[0] for c in cold[w]) for w in cold}
        print(f"d) cold start, spawn -> first finished backtest, {cold_runs} runs: engine median {sec(med['engine'])} "
              f"(min {sec(min(c[0] for c in cold['engine']))}; {phases(cold['engine'])}); floor median "
              f"{sec(med['floor'])} ({phases(cold['floor'])})")
        untuned = None
        if not args.no_glibc_defaults:
            untuned = (child("backtest", "engine", data, repeats, env=GLIBC_DEFAULTS)[0],
                     child("sweep", "engine", data, sweep_repeats, env=GLIBC_DEFAULTS)[0])
            print("e) for information, the engine with glibc's default allocator thresholds"
                  + f": one backtest {spread(untuned[0]['times_s'])} ({untuned[0]['faults_per_call']:.0f} faults/run), "
                  f"sweep {spread(untuned[1]['times_s'], sec)} ({untuned[1]['faults_per_call']:.0f} faults/sweep)")

    e_bt, f_bt = min(bt["engine"]["times_s"]), min(bt["floor"]["times_s"])
    e_sw, f_sw = min(sw["engine"]["times_s"]), min(sw["floor"]["times_s"])
    e_cpu, f_cpu = min(sw["engine"]["cpu_s"]), min(sw["floor"]["cpu_s"])
    rss_e, rss_f = sw["engine"]["peak_rss_mb"], sw["floor"]["peak_rss_mb"]
    rows: list[tuple[str, str, str, float | None, str, str]] = [
        ("one backtest (best)", ms(e_bt), ms(f_bt), e_bt / f_bt, f"<= {TARGET_BACKTEST_RATIO:g}x floor",
         verdict(e_bt <= TARGET_BACKTEST_RATIO * f_bt)),
        (f"sweep, {len(combos)} runs (best)", sec(e_sw), sec(f_sw), e_sw / f_sw, f"<= {TARGET_SWEEP_RATIO:g}x floor",
         verdict(e_sw <= TARGET_SWEEP_RATIO * f_sw)),
        # CPU time (process_time) of the same sweeps: what the wall time is when the process has a core
        # to itself; on a machine shared with other jobs, the steadier of the two
        (f"sweep, {len(combos)} runs, cpu (best)", sec(e_cpu), sec(f_cpu), e_cpu / f_cpu,
         f"<= {TARGET_SWEEP_RATIO:g}x floor", verdict(e_cpu <= TARGET_SWEEP_RATIO * f_cpu)),
        ("sweep peak RSS", f"{rss_e:.0f} MB", f"{rss_f:.0f} MB", rss_e / rss_f, f"<= {TARGET_RSS_MB:g} MB",
         verdict(rss_e <= TARGET_RSS_MB)),
        ("cold start (median)", sec(med["engine"]), sec(med["floor"]), med["engine"] / med["floor"],
         f"<= {TARGET_COLD_S:g} s", verdict(med["engine"] <= TARGET_COLD_S)),
        ("engine == floor", "", "", None, f"rel <= {AGREE_RTOL:g}", verdict(agree)),
    ]
    if untuned is not None:
        t_bt, t_sw = min(untuned[0]["times_s"]), min(untuned[1]["times_s"])
        rows += [
            ("one backtest, glibc defaults (e)", ms(t_bt), ms(f_bt), t_bt / f_bt,
             f"<= {TARGET_BACKTEST_RATIO:g}x floor", "info " + verdict(t_bt <= TARGET_BACKTEST_RATIO * f_bt)),
            ("sweep, glibc defaults (e)", sec(t_sw), sec(f_sw), t_sw / f_sw, f"<= {TARGET_SWEEP_RATIO:g}x floor",
             "info " + verdict(t_sw <= TARGET_SWEEP_RATIO * f_sw)),
        ]
    print_table(f"{n_bars:,} bars", rows)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_table(title: str, rows: list[tuple[str, str, str, float | None, str, str]]) -> None:
    header = ("measure", "engine", "floor", "ratio", "target", "result")
    cells = [[r[0], r[1], r[2], "" if r[3] is None else f"{r[3]:.2f}x", r[4], r[5]] for r in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=True)]
    print(f"\n{title}:")
    for line in [header, ["-" * w for w in widths], *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def cold_start(which: str, data: str) -> tuple[float, dict[str, Any]]:
    out, t0 = child("cold", which, data)
    return (out["done_ns"] - t0) / 1e9, out


def phases(runs: list[tuple[float, dict[str, Any]]]) -> str:
    med = {k: statistics.median(r[1][k] for r in runs) for k in ("import_s", "load_s", "first_backtest_s")}
    return (f"imports {med['import_s']:.3f} s, load {med['load_s']:.3f} s, "
            f"first backtest {med['first_backtest_s']:.3f} s")


def print_breakdown(bars: Any) -> None:
    """Where one engine backtest's time goes, in this process (best of 10 for each phase)."""
    from trading_framework import ExecutionSpec, FeatureCache, bars_per_year, compute_metrics, simulate
    from trading_runtime.strategies.sma_cross import SmaCross

    def best(fn: Any) -> float:
        fn()
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    spec = ExecutionSpec()
    strategy = SmaCross(SmaCross.Params(fast=SINGLE[0], slow=SINGLE[1]))
    sma = best(lambda: FeatureCache(bars).sma(SINGLE[1]))
    features = FeatureCache(bars)
    target = strategy.target(bars, features)
    tgt = best(lambda: strategy.target(bars, features))
    sim = simulate(bars, target, spec)
    simt = best(lambda: simulate(bars, target, spec))
    bpy = bars_per_year(60)
    met = best(lambda: compute_metrics(sim, bpy))
    print(f"  engine phases, in this process (best of 10): SMA {ms(sma)} (x2), target from cached SMAs {ms(tgt)}, "
          f"simulate {ms(simt)}, metrics {ms(met)}")


if __name__ == "__main__":
    main()
