"""Sweep benchmark: the experiment path (plan + run-shard) against the floor, and the sweep's worker speed-up.

    .venv/bin/python bench/sweep.py                    # a) and b) on 1,000,000 bars, about 1.5 minutes
    .venv/bin/python bench/sweep.py --cli-bars 200000  # b) on a smaller file
    .venv/bin/python bench/sweep.py --quick            # 100,000 bars, one repeat (smoke run)

Prints figures (it is not a test):

a) The 100-combination SmaCross sweep (fast 5..50 step 5 × slow 20..200 step 20; the plan drops the
   10 pairs with fast >= slow and says so) through the real experiment path in this process:
   ``load_inputs`` (the runtime's bar loader) → ``build_plan`` (``plan_experiment``) → ``run_shard``
   for every shard into a memory store (evaluate, canonical JSON, checksums, marker). Full validation,
   ``warmup_bars: 0`` and the default execution, so every run computes exactly what the floor kernel
   of bench/floor.py computes in one pass; the metrics are checked to agree (relative 1e-9).
b) ``trading-runtime sweep --workers 1`` against ``--workers 2`` through the CLI (a subprocess each,
   local store in a temporary folder): wall time of the whole command, and of its shard phase (the
   ``shards: ran N in S s`` line the sweep logs), best of the repeats, and the speed-up. Each worker
   process pays a fixed ~0.4 s on its first shard (numba's cached kernels loaded, the shard's
   feature arrays page-faulted in) and the command adds its serial start-up, data load, plan,
   fan-in and report; the shard phase approaches 2x only when the work is several seconds.

Data: ``generate(n_bars, seed)`` of tests/data/scripts/synthetic.py, written as Parquet to a
temporary folder (the runtime reads files, not arrays).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "data" / "scripts"))

from synthetic import generate, parquet_bytes  # noqa: E402  (tests/data/scripts/synthetic.py)
from workloads import floor_sweep, max_rel_diff  # noqa: E402

AGREE_RTOL = 1e-9
TARGET_FLOOR_RATIO = 1.5  # the engine's sweep target (bench/engine.py), for comparison
TARGET_SPEEDUP = 1.8
RUNS_PER_SHARD = 15  # 90 runs -> 6 shards: 3 for each of 2 workers


def experiment(data: Path, store: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": "bench-sweep",
        "description": "bench/sweep.py: SmaCross 10 x 10 grid, full validation",
        "data": {"path": str(data), "timeframe": "1m"},
        "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {}},
        "seed": 1,
        "sweep": {"kind": "grid", "params": {"fast": {"start": 5, "stop": 50, "step": 5},
                                             "slow": {"start": 20, "stop": 200, "step": 20}}},
        "validation": {"kind": "full"},
        "warmup_bars": 0,
        "shards": {"runs_per_shard": RUNS_PER_SHARD},
        "store": store,
    }


def write_data(n_bars: int, seed: int, directory: Path) -> Path:
    path = directory / f"bars-{n_bars}.parquet"
    path.write_bytes(parquet_bytes(generate(n_bars, seed)))
    return path


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def real_path(n_bars: int, seed: int, repeats: int, tmp: Path) -> None:
    from trading_runtime.cli.allocator import tune_allocator
    from trading_runtime.config.experiment import ExperimentConfig
    from trading_runtime.execution.experiment import build_plan, load_inputs, run_shard
    from trading_runtime.planning import ExperimentKeys
    from trading_runtime.store import memory_store, read_complete

    tune_allocator()  # as the CLI does
    data = write_data(n_bars, seed, tmp)
    config = ExperimentConfig.model_validate(experiment(data, "memory://bench"))
    t_load, inputs = best_of(1, lambda: load_inputs(config, "bench-sweep.json", ROOT))
    t_plan, plan = best_of(1, lambda: build_plan(inputs))
    bars = inputs.data.bars
    g = plan.grid
    print(f"a) real path: {n_bars:,} bars; grid {g['n_combinations']} pairs, {g['n_valid']} valid, {g['n_dropped']} "
          f"dropped ({', '.join(f'{n} x {r}' for r, n in g['dropped_by_rule'].items())}); {len(plan.runs)} runs in "
          f"{len(plan.shards)} shards of {RUNS_PER_SHARD}; load {t_load:.3f} s, plan {t_plan:.3f} s")

    def all_shards() -> Any:
        store = memory_store(f"bench-{time.monotonic_ns()}")
        for shard in plan.shards:
            run_shard(store, plan, shard.shard_id, inputs)
        return store

    all_shards()  # warm-up: numba's cache, first-touch page faults
    t_real, store = best_of(repeats, all_shards)
    combos = [(r.params["fast"], r.params["slow"]) for r in plan.runs]
    floor_sweep(bars, combos[:1])  # compile / load the floor kernel
    t_floor, floor = best_of(repeats, lambda: floor_sweep(bars, combos))

    keys = ExperimentKeys(plan.experiment_id, plan.split)
    records = {r["run_id"]: r for s in plan.shards
               for r in json.loads(read_complete(store, keys.shard_result(s.shard_id)))["runs"]}
    worst, worst_at = 0.0, ""
    for run, ref in zip(plan.runs, floor, strict=True):
        d, name = max_rel_diff(records[run.run_id]["in_sample"], ref)
        if d > worst or not worst_at:
            worst, worst_at = d, f"{name} of {run.params['fast']}/{run.params['slow']}"
    ratio = t_real / t_floor
    per_run = t_real / len(plan.runs) * 1e3
    print(f"   run-shard x {len(plan.shards)} (best of {repeats}): {t_real:.3f} s = {per_run:.1f} ms "
          f"per run; floor kernel, same {len(plan.runs)} runs: {t_floor:.3f} s = "
          f"{t_floor / len(plan.runs) * 1e3:.1f} ms per run")
    print(f"   real path / floor = {ratio:.2f}x (the engine's own sweep target is <= {TARGET_FLOOR_RATIO:g}x; the "
          f"real path adds per-shard SMAs, parameter validation, canonical JSON, sha256 and the store)")
    print(f"   metrics agree with the floor: max relative difference {worst:.2e} ({worst_at}) "
          f"{'PASS' if worst <= AGREE_RTOL else 'FAIL'} (<= {AGREE_RTOL:g})")


def sweep_cli(config: Path, store: Path, workers: int) -> tuple[float, float]:
    """(wall seconds of the command, seconds of its shard phase)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "trading_runtime", "sweep", "--config", str(config), "--store", str(store),
         "--workers", str(workers), "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"sweep --workers {workers} failed:\n{proc.stderr}")
    for line in proc.stderr.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("message", "").startswith("shards: ran"):
                return wall, float(rec["seconds"])
    raise RuntimeError("sweep did not log its shard phase")


def speedup(n_bars: int, seed: int, repeats: int, tmp: Path) -> None:
    data = write_data(n_bars, seed, tmp)
    config = tmp / "sweep.json"
    config.write_text(json.dumps(experiment(data, str(tmp / "unused"))))
    results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for i in range(repeats):  # alternate, so that drift in the machine's load hits both alike
        for workers in (1, 2):
            results[workers].append(sweep_cli(config, tmp / f"store-{workers}-{i}", workers))
    wall = {w: min(r[0] for r in rs) for w, rs in results.items()}
    phase = {w: min(r[1] for r in rs) for w, rs in results.items()}
    print(f"b) sweep CLI, {n_bars:,} bars, 90 runs in {90 // RUNS_PER_SHARD} shards, local store, best of {repeats}:")
    print(f"   --workers 1: command {wall[1]:.2f} s, shard phase {phase[1]:.2f} s")
    print(f"   --workers 2: command {wall[2]:.2f} s, shard phase {phase[2]:.2f} s")
    s_phase, s_wall = phase[1] / phase[2], wall[1] / wall[2]
    print(f"   speed-up of 2 workers over 1: shard phase {s_phase:.2f}x "
          f"{'PASS' if s_phase >= TARGET_SPEEDUP else 'FAIL'} (>= {TARGET_SPEEDUP:g}x); whole command {s_wall:.2f}x "
          f"(includes the serial start-up, data load, plan, fan-in and report)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller data, one repeat (smoke run)")
    ap.add_argument("--bars", type=int, help="bars of the real-path measure (default 1,000,000; 100,000 quick)")
    ap.add_argument("--cli-bars", type=int, help="bars of the CLI speed-up measure (default: --bars)")
    ap.add_argument("--repeats", type=int, help="repeats of each measure (default 3; 1 quick)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    n_bars = args.bars or (100_000 if args.quick else 1_000_000)
    cli_bars = args.cli_bars or n_bars
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; SmaCross, default execution, timeframe 60 s")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        real_path(n_bars, args.seed, repeats, Path(tmp))
        speedup(cli_bars, args.seed, repeats, Path(tmp))


if __name__ == "__main__":
    main()
