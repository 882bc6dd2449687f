"""Whole-command figures: ``trading-runtime sweep`` from process start to summary + report written.

    .venv/bin/python bench/command.py                 # 1,000,000 bars, 90 runs; about 2 minutes
    .venv/bin/python bench/command.py --quick         # 100,000 bars, one repeat (smoke run)
    .venv/bin/python bench/command.py --scale 10      # also the peak RSS of a sweep with 10x the runs

Prints figures (it is not a test), each beside a reference measured in the same run:

* the reference: the floor kernel of bench/floor.py over the same 90 runs, in a fresh interpreter
  (``child.py sweep floor``: best of 3 after a warm-up), i.e. the per-run numba loop's sweep time;
* ``sweep --workers 1`` and ``--workers 2`` through the real CLI in a subprocess (Parquet input, local
  store in a temporary folder): wall time from process start to exit (summary.json and report.html
  written), best of the repeats, alternating; the child's peak RSS (``ru_maxrss`` of the waited
  child, started by a small launcher: see LAUNCHER and bench/README.md on ``ru_maxrss``);
* a phase table of one ``--workers 1`` run: the same command run through ``command_phases.py``,
  which times the sweep's steps (imports, data, plan, shards, fan-in, report) and reads
  ``VmHWM`` after each;
* ``run-shard`` of one 15-run shard of the planned experiment in a fresh process (data local), process
  start to exit, best of the repeats (information: the cold-start target compares process start -> the
  first result, which ``bench/cold_start.py`` measures);
* ``--scale N``: the peak RSS of the same sweep with N times the runs (more fast windows), which
  must stay under the same ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "data" / "scripts"))

from sweep import experiment, write_data  # noqa: E402
from synthetic import generate  # noqa: E402  (tests/data/scripts/synthetic.py)

TARGET_WALL_RATIO = 2.5
TARGET_RSS_MB = 350
TARGET_WORKERS_RATIO = 0.65
TARGET_COLD_S = 0.5
RUNS = 90  # the valid pairs of the grid (bench/sweep.py)


# The command is started by this small launcher, not by the bench itself: on Linux a process's ru_maxrss
# starts from the resident set of the process it was exec'd from (the kernel folds the old memory's
# high-water mark into it at exec; with vfork, that is the parent's), and this bench holds ~350-400 MB
# by then (the generated bars, pandas, pyarrow). A command measured directly from here reported that
# figure whenever its own peak was lower: "391 MB, and the same with 10x the runs". The launcher is
# exec'd with a few MB, so what it waits for reports its own peak (and that of its forked workers).
LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "maxrss_kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}),
      file=sys.stderr)
"""


def timed_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, the child's own peak RSS in MB, stdout): started and waited for (``wait4``'s rusage)
    by a small launcher interpreter (see LAUNCHER), timed from just before the start to the exit."""
    proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *argv], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"launcher of {' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    figures = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    if figures["code"] != 0:
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {figures['code']}")
    return figures["wall"], figures["maxrss_kib"] / 1024, proc.stdout.decode()


def floor_reference(n_bars: int, seed: int, tmp: Path, repeats: int) -> float:
    from workloads import save_bars

    from trading_framework import Bars
    from trading_framework.bars import COLUMNS

    data = generate(n_bars, seed)
    path = tmp / "bars.npz"
    save_bars(Bars(*(data[c] for c in COLUMNS)), path)
    out = subprocess.run([sys.executable, str(HERE / "child.py"), "sweep", "floor", str(path), str(repeats)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return min(json.loads(out.stdout.strip().splitlines()[-1])["times_s"])


def sweep_argv(config: Path, store: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "trading_runtime", "sweep", "--config", str(config), "--store", str(store),
            "--workers", str(workers), "-q"]


def write_config(data: Path, tmp: Path, name: str, fast_stop: int = 50, fast_step: int = 5) -> Path:
    doc: dict[str, Any] = experiment(data, str(tmp / "unused"))
    doc["sweep"]["params"]["fast"] = {"start": 5, "stop": fast_stop, "step": fast_step}
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def phase_table(config: Path, store: Path, workers: int) -> dict[str, list[float]]:
    """One sweep through command_phases.py: phase → [wall s, peak MB so far, peak MB during, CPU s] (the
    parent's CPU only; a phase timed in several steps, such as fan-in, is their sum)."""
    phases = subprocess.run([sys.executable, str(HERE / "command_phases.py"), "sweep", "--config", str(config),
                             "--store", str(store), "--workers", str(workers), "-q"],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    table: dict[str, list[float]] = {}
    for line in phases.stderr.splitlines():
        if line.startswith("PHASE "):
            name, *figures = line.split()[1:]
            seconds, hwm, own, cpu = (float(v) for v in figures)
            old = table.get(name, [0.0, 0.0, 0.0, 0.0])
            table[name] = [old[0] + seconds, max(old[1], hwm), max(old[2], own), old[3] + cpu]
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 bars, one repeat (smoke run)")
    ap.add_argument("--bars", type=int, help="bars (default 1,000,000; 100,000 quick)")
    ap.add_argument("--repeats", type=int, help="repeats of each measure (default 3; 1 quick)")
    ap.add_argument("--scale", type=int, default=0, help="also run a sweep with this many times the runs (RSS)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    n_bars = args.bars or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {n_bars:,} bars, SmaCross 90 runs, 15 runs per shard")
    with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp_:
        tmp = Path(tmp_)
        data = write_data(n_bars, args.seed, tmp)
        config = write_config(data, tmp, "sweep.json")
        floor_s = floor_reference(n_bars, args.seed, tmp, 3)
        walls: dict[int, list[float]] = {1: [], 2: []}
        rss: dict[int, list[float]] = {1: [], 2: []}
        for i in range(repeats):  # alternate, so that drift in the machine's load hits both alike
            for workers in (1, 2):
                wall, peak, _ = timed_child(sweep_argv(config, tmp / f"store-{workers}-{i}", workers))
                walls[workers].append(wall)
                rss[workers].append(peak)
        w1, w2 = min(walls[1]), min(walls[2])
        print(f"reference: floor kernel, 90 runs in one process (best of 3): {floor_s:.3f} s")
        rows = [
            ("sweep --workers 1, start -> summary+report", f"{w1:.2f} s", f"{w1 / floor_s:.2f}x floor",
             f"<= {TARGET_WALL_RATIO:g}x", w1 / floor_s <= TARGET_WALL_RATIO),
            ("its peak RSS", f"{max(rss[1]):.0f} MB", "", f"<= {TARGET_RSS_MB} MB", max(rss[1]) <= TARGET_RSS_MB),
            ("sweep --workers 2", f"{w2:.2f} s", f"{w2 / w1:.2f}x workers 1", f"<= {TARGET_WORKERS_RATIO:g}x",
             w2 / w1 <= TARGET_WORKERS_RATIO),
        ]
        store = tmp / "store-1-0"
        plan = json.loads(next(store.rglob("plan.json")).read_text())
        colds = []
        for _ in range(repeats):
            wall, _, _ = timed_child([sys.executable, "-m", "trading_runtime", "run-shard", "--store", str(store),
                                      "--experiment", plan["experiment_id"], "--shard", "shard-00000", "-q"])
            colds.append(wall)
        cold = min(colds)
        # the whole 15-run shard; the cold-start target compares start -> first result (bench/cold_start.py)
        rows.append(("run-shard, 15 runs, start -> exit (information)", f"{cold:.2f} s",
                     "target: cold_start.py", f"<= {TARGET_COLD_S} s", None))
        if args.scale > 1:
            big = write_config(data, tmp, "sweep-scaled.json", fast_stop=5 + 5 * 10 * args.scale - 1,
                               fast_step=max(1, 5 // args.scale) if args.scale <= 5 else 1)
            wall, peak, _ = timed_child(sweep_argv(big, tmp / "store-scaled", 1))
            rows.append((f"sweep with more runs (--scale {args.scale}), peak RSS", f"{peak:.0f} MB", f"{wall:.1f} s",
                         f"<= {TARGET_RSS_MB} MB", peak <= TARGET_RSS_MB))
            # information: the same ratio on a sweep whose shard work outweighs the serial start-up and report
            wall2, _, _ = timed_child(sweep_argv(big, tmp / "store-scaled-2", 2))
            rows.append(("  its --workers 2 (information)", f"{wall2:.1f} s", f"{wall2 / wall:.2f}x workers 1",
                         f"<= {TARGET_WORKERS_RATIO:g}x", wall2 / wall <= TARGET_WORKERS_RATIO))
        print(f"{'measure':48}  {'figure':>9}  {'ratio':>20}  {'target':>10}  result")
        for name, fig, ratio, target, ok in rows:
            verdict = "info" if ok is None else "PASS" if ok else "FAIL"
            print(f"{name:48}  {fig:>9}  {ratio:>20}  {target:>10}  {verdict}")
        table = phase_table(config, tmp / "store-phases", 1)
        print("phases of one sweep --workers 1 (wall and CPU seconds; peak RSS so far and during the phase, MB):")
        for name, (seconds, hwm, own, cpu) in table.items():
            print(f"  {name:10} {seconds:6.2f} s  cpu {cpu:5.2f} s  peak {hwm:4.0f} MB  during the phase {own:4.0f} MB")
        table2 = phase_table(config, tmp / "store-phases-2", 2)
        serial = sum(v[0] for k, v in table2.items() if k != "shards")
        print(f"--workers 2, one run (wall s): shards {table2['shards'][0]:.2f} (workers 1: {table['shards'][0]:.2f}, "
              f"{table['shards'][0] / table2['shards'][0]:.2f}x faster); every other phase together {serial:.2f} "
              f"({', '.join(f'{k} {v[0]:.2f}' for k, v in table2.items() if k != 'shards')})")
        if "shards" in table:
            # Amdahl: the ratio with the shard phase split perfectly over two workers and every other phase as long
            # as with one worker (the tail is already partly on both cores, so the measured ratio can go a little
            # below it; the start-up before the shards cannot: see bench/README "ninth pass")
            bound = (w1 - table["shards"][0] / 2) / w1
            print(f"--workers 2 bound (shard phase halved, the rest as with one worker): {bound:.2f}x workers 1 "
                  f"(measured {w2 / w1:.2f}x; target {TARGET_WORKERS_RATIO:g}x)")
        per_m = 1_000_000 / n_bars
        if "shards" in table:
            print(f"one run per 1M bars: {table['shards'][3] / RUNS * per_m * 1000:.1f} ms of CPU in the shard phase "
                  f"(evaluate, write), {w1 / RUNS * per_m * 1000:.1f} ms of the whole command's wall time "
                  f"(--workers 1 / {RUNS} runs)")


if __name__ == "__main__":
    main()
