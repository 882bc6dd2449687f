"""A shard pod's cold start: ``trading-runtime run-shard`` from process start to its first result, its result
written and its exit.

    .venv/bin/python bench/cold_start.py               # 1,000,000 bars, a 15-run shard, best of 7
    .venv/bin/python bench/cold_start.py --quick       # 100,000 bars, best of 3
    .venv/bin/python bench/cold_start.py --before DIR  # also an exported older tree, alternating, same plan

Prints figures (it is not a test), each measured in this run, alternating so that drift in the
machine's load hits all alike:

* ``python -c pass``: the interpreter's own start-up (the reference nothing can go under);
* ``python -c "import numpy, numba, pydantic, pyarrow.parquet"``: the libraries a shard of Parquet data
  cannot do without, imported and nothing else;
* ``run-shard``, process start -> first result: from just before the child is started to the moment the
  shard's first run has returned its metrics (the first backtest's result: data read and checked, kernels
  loaded, one SMA cross simulated and its metrics computed). This is the issue's "a shard pod's cold start
  (imports -> first result, data local)", the figure the target row (<= 0.5 s) compares. It is taken from
  the ``shard_phases.py`` run of each repeat (the same command in a fresh interpreter, whose first run
  prints the wall clock when it returns), with the process's CPU seconds by then (all its threads: where
  other work keeps the cores busy, the wall time cannot go below it);
* ``run-shard``, process start -> result written: from just before the child is started to the
  modification time of the shard's completion marker (``result.json.SUCCESS``, the last file a shard
  writes; all 15 runs done), and process start -> exit (the interpreter's teardown too), both of the plain
  command (``python -m trading_runtime run-shard``), without the phase timer;
* the phases of the same command (``shard_phases.py``; best of the repeats, each phase on its own):
  imports (to the subcommand's modules imported), reading the plan, the data (read, verified against the
  plan's sha256; since issue 13's eighth pass on a thread of its own, beside the next three), inputs (from
  the plan read to the inputs ready: numba's side imported, the kernels loaded, the wait for the data),
  kernels (their warm-up), wait (the strategy class loaded and the data thread joined), the first run, the
  other runs, the write (result, marker; before issue 13's curves at fan-in also an equity blob). A tree
  from before the eighth pass has no inputs/kernels/wait phases (nan) and its data phase is on the main
  thread (its kernels load on a thread during it).

Bytecode: the image's ``pip install`` byte-compiles the runtime and the framework (``.pyc`` beside the
sources), so a pod never compiles them at start-up. A development tree installed in editable mode, run
with ``PYTHONDONTWRITEBYTECODE=1`` (as the sessions on this machine are), would compile ~100 modules from
source in every process instead (~0.04 s of CPU here). So each measured tree is byte-compiled first
(``python -m compileall`` of ``trading_runtime`` and ``framework/trading_framework``, into their
``__pycache__`` folders, which git ignores); ``--no-compile`` measures without that.

The data are local (a Parquet file of the project's synthetic one-minute bars), planned once with
``trading-runtime plan``; one untimed run-shard first fills numba's on-disk cache.

``--before DIR``: the same measures, alternating in the same loop, of the runtime and framework of an
exported tree (``git archive <commit> | tar -x -C DIR``; run with ``PYTHONPATH=DIR:DIR/framework``) on
the same plan and store: a before/after comparison under the same machine load. Both must write the
same bytes (the shard's result is compared after every run).
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
LIBRARIES = "import numpy, numba, pydantic, pyarrow.parquet"
PHASES = ("imports", "plan", "data", "inputs", "kernels", "wait", "first-run", "other-runs", "write")


def run(argv: list[str], tree: Path = ROOT) -> tuple[float, str]:
    """(wall seconds from just before the start to exit, stderr) of ``argv`` run with the runtime and
    framework of ``tree``; fails loudly on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'framework'}"} if tree != ROOT else None
    t0 = time.perf_counter()
    proc = subprocess.run(argv, check=False, cwd=tree, capture_output=True, text=True, env=env)
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
    ap.add_argument("--before", type=Path, help="an exported older tree to measure alongside, alternating")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile the trees first (a pod's image has them compiled)")
    args = ap.parse_args()
    n_bars = args.bars or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (3 if args.quick else 7)
    py = sys.executable
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {n_bars:,} bars, SmaCross, shard-00000 (15 runs), "
          f"best of {repeats}; {'sources not byte-compiled first' if args.no_compile else 'trees byte-compiled first'}")
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp_:
        tmp = Path(tmp_)
        config = write_config(write_data(n_bars, args.seed, tmp), tmp, "sweep.json")
        store = tmp / "store"
        id_file = tmp / "experiment-id"
        run([py, "-m", "trading_runtime", "plan", "--config", str(config), "--store", str(store),
             "--experiment-id-file", str(id_file), "-q"])
        experiment = id_file.read_text().strip()
        shard_args = ["run-shard", "--store", str(store), "--experiment", experiment, "--shard", "shard-00000", "-q"]
        trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
        if not args.no_compile:  # as the image's pip install does (see the module docstring)
            for tree in trees.values():
                run([py, "-m", "compileall", "-q", "trading_runtime", "framework/trading_framework"], tree)
        for tree in trees.values():  # untimed: fills or validates numba's cache
            run([py, "-m", "trading_runtime", *shard_args], tree)
        marker = next(store.rglob("shard-00000/result.json.SUCCESS"))
        result = marker.with_name("result.json")
        expected = result.read_bytes()
        passes: list[float] = []
        libraries: list[float] = []
        exits: dict[str, list[float]] = {name: [] for name in trees}
        written: dict[str, list[float]] = {name: [] for name in trees}
        first: dict[str, list[float]] = {name: [] for name in trees}
        first_cpu: dict[str, list[float]] = {name: [] for name in trees}
        phases: dict[str, dict[str, list[float]]] = {name: {phase: [] for phase in PHASES} for name in trees}
        for _ in range(repeats):
            passes.append(run([py, "-c", "pass"])[0])
            libraries.append(run([py, "-c", LIBRARIES])[0])
            for name, tree in trees.items():
                start_ns = time.time_ns()
                exits[name].append(run([py, "-m", "trading_runtime", *shard_args], tree)[0])
                written[name].append((marker.stat().st_mtime_ns - start_ns) / 1e9)
                if result.read_bytes() != expected:
                    raise SystemExit(f"{name}: the shard's result differs from the first run's")
                start_ns = time.time_ns()
                _, err = run([py, str(HERE / "shard_phases.py"), *shard_args], tree)
                for line in err.splitlines():
                    if line.startswith("AT first-result "):
                        first[name].append((int(line.split()[2]) - start_ns) / 1e9)
                        first_cpu[name].append(float(line.split()[3]))
                    if line.startswith("PHASE "):
                        phase, seconds = line.split()[1:]
                        phases[name][phase].append(float(seconds))
        print(f"{'measure':58}  {'best':>8}  {'median':>8}  {'target':>8}  result")
        rows: list[tuple[str, list[float], bool]] = [("python -c pass", passes, False),
                                                     ("python -c 'import (the libraries)'", libraries, False)]
        for name in trees:
            label = "" if len(trees) == 1 else f" ({name})"
            rows += [(f"run-shard{label}: start -> first result", first[name], True),
                     (f"run-shard{label}: CPU by the first result (all threads)", first_cpu[name], False),
                     (f"run-shard{label}: start -> result written (15 runs)", written[name], False),
                     (f"run-shard{label}: start -> exit", exits[name], False)]
        for label, values, targeted in rows:
            med = sorted(values)[len(values) // 2]
            verdict = ("PASS" if min(values) <= TARGET_S else "FAIL") if targeted else ""
            target = f"<= {TARGET_S:g} s" if targeted else ""
            print(f"{label:58}  {min(values):7.3f}s  {med:7.3f}s  {target:>8}  {verdict}")
        print(f"the target compares 'start -> first result' (the issue's cold start: imports -> first result, "
              f"data local) with {TARGET_S:g} s; 'result written' and 'exit' are the whole 15-run shard")
        print("phases (shard_phases.py; best of each; imports from the script's first line), seconds:")
        print(f"  {'phase':11} " + " ".join(f"{name:>8}" for name in trees))
        for phase in PHASES:
            print(f"  {phase:11} " + " ".join(f"{min(phases[name][phase], default=float('nan')):8.3f}"
                                             for name in trees))

if __name__ == "__main__":
    main()
