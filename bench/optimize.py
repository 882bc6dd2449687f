"""Optuna generation-mode overhead, and end-to-end trials per second on the synthetic bars.

Run on demand (figures, not a test):

    .venv/bin/python bench/optimize.py                 # both parts
    .venv/bin/python bench/optimize.py --part overhead --trials 1000 --batch 16
    .venv/bin/python bench/optimize.py --part end-to-end --workers 2

Overhead: a 1,000-trial study in generation mode with a constant-time synthetic objective (no
backtest), through the real steps on a local-directory store: ask (storage read, sampler, trials
numbered, plan written) and tell (values told in trial order, the generation's told journal object
written; optimize/storage.py). Two ways of reaching the storage:

- warm: the local all-in-one, which keeps the opened study between steps while the journal objects
  at its frontier are the ones it knows, keeps a generation's asked trials in memory until the tell
  (no asked object), and stores told generations every 8 generations and at its end;
- cold: every step reads and replays the stored journal, as a pod does (process start excluded),
  and the ask stores its asked object.

The reference is plain in-memory Optuna doing the same asks and tells (class PlainOptuna), measured
in lockstep: generation g's reference runs right after the study's tell of g, so that both sides see
the same load on a shared machine; the ratio is the sum of the study's ask and tell times over the
reference's.

End to end: ``trading-runtime optimize --config`` (the local all-in-one, a real subprocess) on the
14 days of synthetic 1-minute bars, wall time per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.optimize_support import synthetic_config, synthetic_manifest, synthetic_records  # noqa: E402
from trading_runtime.optimize import (  # noqa: E402
    ask_generation,
    generation_plan,
    init_study,
    tell_generation,
    write_generation_plan,
)
from trading_runtime.optimize.storage import flush_storage, forget_cached_storages, stored_journal, stored_storage  # noqa: E402
from trading_runtime.optimize.study import configure_optuna_logging, load_study  # noqa: E402
from trading_runtime.store import LocalStore  # noqa: E402


class PlainOptuna:
    """Reference: plain Optuna in memory (no store, no journal, no plan) doing the same asks and tells as the
    study: per generation, the same seeded sampler (``generation/<gggg>``), ``study.ask(distributions)`` for
    the batch, then ``tell`` of the study's values in trial order. Every asked parameter set must equal the
    study's (the bench stops otherwise)."""

    def __init__(self, manifest: Any) -> None:
        from trading_runtime.optimize.space import distributions

        self.manifest = manifest
        self.dists = distributions(manifest.search_space)
        self.study = optuna.create_study(direction="maximize")

    def generation(self, g: int, told: list[Any]) -> float:
        """Ask and tell generation ``g`` as the study did (``told``: its trials); seconds."""
        from trading_runtime.optimize.keys import generation_label
        from trading_runtime.optimize.sampler import build_sampler

        m = self.manifest
        t0 = time.perf_counter()
        self.study.sampler = build_sampler(m.sweep.sampler, f"generation/{generation_label(g)}", m.batch_size)
        trials = [self.study.ask(self.dists) for _ in told]
        for tr, ours in zip(trials, told, strict=True):
            if tr.params != ours.params:
                raise SystemExit(f"reference asked {tr.params} for trial {ours.number}, the study {ours.params}")
            self.study.tell(tr, ours.values, state=ours.state)
        return time.perf_counter() - t0


def overhead(sampler: str, n_trials: int, batch: int, cold: bool) -> dict[str, float]:
    """Figures per trial of the study's steps and of the plain reference, measured in lockstep: each
    generation's reference asks and tells run right after the study's tell of that generation, so that both
    see the same load on a shared machine."""
    manifest = synthetic_manifest(synthetic_config(sampler={"name": sampler, "seed": 42}, n_trials=n_trials,
                                                   batch_size=batch))
    plain = PlainOptuna(manifest)
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as tmp:
        store = CountingStore(tmp)
        init_study(store, manifest)
        forget_cached_storages()
        store.puts = store.bytes = 0
        t_ask = t_tell = t_ref = 0.0
        t0 = time.perf_counter()
        for g in range(manifest.n_generations):
            if cold:
                forget_cached_storages()
            a = time.perf_counter()
            asked = ask_generation(store, manifest, g, lambda p: None, durable=cold)  # the all-in-one: in memory
            write_generation_plan(store, generation_plan(manifest, g, asked, 16))  # as orchestration.study.ask
            b = time.perf_counter()
            records = synthetic_records(manifest, asked)  # the "backtest": excluded from the timings
            if cold:
                forget_cached_storages()
            c = time.perf_counter()
            tell_generation(store, manifest, g, lambda records=records: records, durable=cold)
            if g == manifest.n_generations - 1 and not cold:
                flush_storage(store, manifest.storage_location)  # what the all-in-one does when it stops
            d = time.perf_counter()
            t_ask += b - a
            t_tell += d - c
            wanted = manifest.generation_trials(g)
            # Not timed: the generation's trials as told (warm: read in memory, as an in-memory step does).
            with stored_storage(store, manifest.storage_location, write=False,
                                step=None if cold else "told-in-memory") as storage:
                told = load_study(storage, manifest, optuna.samplers.RandomSampler()).get_trials()[wanted.start:]
            t_ref += plain.generation(g, told)
        total = time.perf_counter() - t0
        size = len(stored_journal(store, manifest.storage_location))
    forget_cached_storages()
    return {"ask_ms": 1000 * t_ask / n_trials, "tell_ms": 1000 * t_tell / n_trials,
            "overhead_ms": 1000 * (t_ask + t_tell) / n_trials, "ref_ms": 1000 * t_ref / n_trials,
            "ratio": (t_ask + t_tell) / t_ref, "wall_s": total, "journal_bytes": size,
            "puts_per_generation": store.puts / manifest.n_generations, "written_bytes": store.bytes}


class CountingStore(LocalStore):
    """A local store that counts the objects it writes (each one fsynced, then its directory) and their bytes."""

    puts = 0
    bytes = 0

    def put_parts(self, key: str, parts: Any) -> None:
        self.puts += 1
        self.bytes += sum(len(memoryview(p).cast("B")) for p in parts)
        super().put_parts(key, parts)


def end_to_end(workers: int, n_trials: int, batch: int) -> dict[str, float]:
    cfg = json.loads((ROOT / "trading_runtime" / "local" / "optimize.json").read_text())
    cfg["id"] = "bench-optuna"
    cfg["sweep"].update({"n_trials": n_trials, "batch_size": batch})
    with tempfile.TemporaryDirectory(prefix="bench-optimize-e2e-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(cfg))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "trading_runtime", "-q", "optimize", "--config", str(path),
                               "--store", str(Path(tmp) / "store"), "--workers", str(workers)],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    folds = 3  # the example's walk-forward: 3 folds, each run = in-sample + out-of-sample backtest
    return {"trials": n_trials, "wall_s": wall, "trials_per_s": n_trials / wall,
            "backtests_per_s": n_trials * folds * 2 / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("overhead", "end-to-end", "all"), default="all")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--samplers", default="random,tpe")
    ap.add_argument("--repeats", type=int, default=3, help="overhead part: runs per sampler and storage")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--e2e-trials", type=int, default=200)
    ap.add_argument("--e2e-batch", type=int, default=20)
    args = ap.parse_args()
    configure_optuna_logging()
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    if args.part in ("overhead", "all"):
        print(f"## generation-mode overhead: {args.trials} trials, batch {args.batch} "
              f"({-(-args.trials // args.batch)} generations), no backtest")
        print("| sampler | storage | ask ms/trial | tell ms/trial | overhead ms/trial | journal | "
              "plain Optuna in memory (reference) | ratio | objects written per generation | bytes written |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for sampler in args.samplers.split(","):
            for cold in (False, True):
                # Best ratio of --repeats (the machine is shared: the least disturbed run), every run printed.
                runs = [overhead(sampler, args.trials, args.batch, cold) for _ in range(args.repeats)]
                for r in sorted(runs, key=lambda x: x["ratio"]):
                    print(f"| {sampler} | {'cold (pod)' if cold else 'warm (all-in-one)'} | {r['ask_ms']:.2f} | "
                          f"{r['tell_ms']:.2f} | {r['overhead_ms']:.2f} | {r['journal_bytes'] / 1e6:.2f} MB | "
                          f"{r['ref_ms']:.2f} ms/trial | {r['ratio']:.2f}x | {r['puts_per_generation']:.2f} | "
                          f"{r['written_bytes'] / 1e6:.1f} MB |", flush=True)
    if args.part in ("end-to-end", "all"):
        r = end_to_end(args.workers, args.e2e_trials, args.e2e_batch)
        print(f"## end to end: {r['trials']} trials (batch {args.e2e_batch}, 3 walk-forward folds) on 20,160 "
              "1-minute bars, "
              f"{args.workers} worker(s)")
        print(f"{r['wall_s']:.1f} s wall: {r['trials_per_s']:.1f} trials/s ({r['backtests_per_s']:.0f} backtests/s)")


if __name__ == "__main__":
    main()
