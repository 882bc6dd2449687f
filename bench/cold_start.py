"""A shard pod's cold start: ``trading-runtime run-shard`` from process start to its result written.

    .venv/bin/python bench/cold_start.py               # 1,000,000 bars, a 15-run shard, best of 7
    .venv/bin/python bench/cold_start.py --quick       # 100,000 bars, best of 3

Prints figures (it is not a test), each measured in this run, alternating so that drift in the
machine's load hits all alike:

* ``python -c pass``: the interpreter's own start-up (the reference nothing can go under);
* ``run-shard``, process start -> result written: from just before the child is started to the
  modification time of the shard's completion marker (``result.json.SUCCESS``, the last file a shard
  writes), and process start -> exit;
* the phases of the same command (``shard_phases.py``; best of the repeats, each phase on its own):
  imports, reading the plan, the data (read, verified against the plan's sha256, validated), the
  first run (it loads the compiled kernels), the other runs, the write (equity blob, result, marker).

The data are local (a Parquet file of the project's synthetic one-minute bars), planned once with
``trading-runtime plan``; one untimed run-shard first fills numba's on-disk cache.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "data" / "scripts"))

from command import write_config  # noqa: E402
from sweep import write_data  # noqa: E402

TARGET_S = 0.5
PHASES = ("imports", "plan", "data", "first-run", "other-runs", "write")


def run(argv: list[str]) -> tuple[float, str]:
    """(wall seconds from just before the start to exit, stderr); fails loudly on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, check=False, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {proc.returncode}:\n{proc.stderr}")
    return wall, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 bars, 3 repeats")
    ap.add_argument("--bars", type=int, help="bars (default 1,000,000; 100,000 quick)")
    ap.add_argument("--repeats", type=int, help="repeats of each measure (default 7; 3 quick)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    n_bars = args.bars or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (3 if args.quick else 7)
    py = sys.executable
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {n_bars:,} bars, SmaCross, shard-00000 (15 runs), "
          f"best of {repeats}")
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp_:
        tmp = Path(tmp_)
        config = write_config(write_data(n_bars, args.seed, tmp), tmp, "sweep.json")
        store = tmp / "store"
        id_file = tmp / "experiment-id"
        run([py, "-m", "trading_runtime", "plan", "--config", str(config), "--store", str(store),
             "--experiment-id-file", str(id_file), "-q"])
        experiment = id_file.read_text().strip()
        shard_args = ["run-shard", "--store", str(store), "--experiment", experiment, "--shard", "shard-00000", "-q"]
        run([py, "-m", "trading_runtime", *shard_args])  # untimed: fills or validates numba's cache
        marker = next(store.rglob("shard-00000/result.json.SUCCESS"))
        passes: list[float] = []
        exits: list[float] = []
        written: list[float] = []
        phases: dict[str, list[float]] = {name: [] for name in PHASES}
        for _ in range(repeats):
            passes.append(run([py, "-c", "pass"])[0])
            start_ns = time.time_ns()
            exits.append(run([py, "-m", "trading_runtime", *shard_args])[0])
            written.append((marker.stat().st_mtime_ns - start_ns) / 1e9)
            _, err = run([py, str(HERE / "shard_phases.py"), *shard_args])
            for line in err.splitlines():
                if line.startswith("PHASE "):
                    name, seconds = line.split()[1:]
                    phases[name].append(float(seconds))
        p, w, e = min(passes), min(written), min(exits)
        print(f"{'measure':44}  {'best':>8}  {'median':>8}  {'target':>8}  result")
        for name, values, target in (("python -c pass", passes, ""),
                                     ("run-shard: process start -> result written", written, f"<= {TARGET_S:g} s"),
                                     ("run-shard: process start -> exit", exits, "")):
            med = sorted(values)[len(values) // 2]
            verdict = ("PASS" if min(values) <= TARGET_S else "FAIL") if target else ""
            print(f"{name:44}  {min(values):7.3f}s  {med:7.3f}s  {target:>8}  {verdict}")
        print(f"result written - python -c pass: {w - p:.3f} s; exit - result written: {e - w:.3f} s")
        print("phases (shard_phases.py; best of each; imports from the script's first line):")
        for name in PHASES:
            if phases[name]:
                print(f"  {name:11} {min(phases[name]):7.3f} s")


if __name__ == "__main__":
    main()
