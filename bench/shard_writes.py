"""Where the writes go: a shard's (``write_shard``: result, marker) and finalize's derived curves
(``write_curves``: the blob of 5 runs' curves, its index, marker) into a local-directory store.

    .venv/bin/python bench/shard_writes.py                # 1,000,000 bars, one 15-run shard, best of 7
    .venv/bin/python bench/shard_writes.py --bars 200000

One evaluated shard (kernels warm) and the curves of its first 5 runs (as finalize derives the top-K),
written again and again into fresh directories, alternating: the shard's result; the curves ``streamed``
(the blob's parts written as they are), ``joined`` (the blob joined into one bytes object first), and the
same two with ``os.fsync`` made a no-op (for information only: what the durability costs; the store always
syncs). Also: the shard's evaluation time and the 5 curves' derivation time (issue 13: shards write no
equity since; before, each shard wrote its own top-K blob).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from command import write_config  # noqa: E402
from sweep import write_data  # noqa: E402

from trading_runtime.cli.allocator import tune_allocator  # noqa: E402
from trading_runtime.config.experiment import ExperimentConfig  # noqa: E402
from trading_runtime.execution.backtest import execution_spec  # noqa: E402
from trading_runtime.execution.curves import derive_curves  # noqa: E402
from trading_runtime.execution.experiment import build_plan, load_inputs, warm_kernels  # noqa: E402
from trading_runtime.execution.shard import ShardOutput, evaluate_shard, write_shard  # noqa: E402
from trading_runtime.planning.curves import write_curves  # noqa: E402
from trading_runtime.planning.equity_blob import blob_parts  # noqa: E402
from trading_runtime.store import LocalStore  # noqa: E402


class _Joined(LocalStore):
    """A local store that joins a blob's parts into one bytes object before writing it."""

    def put_parts(self, key: str, parts: Any) -> None:
        super().put_parts(key, (memoryview(b"".join(parts)),))


def _evaluate(plan: Any, sid: str, inputs: Any, progress: None) -> ShardOutput:
    cfg = inputs.config
    return evaluate_shard(plan, sid, cfg, inputs.data.bars, inputs.strategy_cls, execution_spec(cfg),
                          cfg.data.timeframe_seconds, progress)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    tune_allocator()
    real_fsync = os.fsync
    with tempfile.TemporaryDirectory(prefix="bench-shard-writes-") as tmp_:
        tmp = Path(tmp_)
        config_path = write_config(write_data(args.bars, args.seed, tmp), tmp, "sweep.json")
        config = ExperimentConfig.model_validate_json(config_path.read_text())
        inputs = load_inputs(config, str(config_path), tmp)
        plan = build_plan(inputs)
        sid = plan.shards[0].shard_id
        warm_kernels(plan, inputs)
        evals = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = _evaluate(plan, sid, inputs, None)
            evals.append(time.perf_counter() - t0)
        top = plan.shards[0].run_ids[:5]
        derives = []
        for _ in range(3):
            t0 = time.perf_counter()
            curves = derive_curves(plan, inputs, top)
            derives.append(time.perf_counter() - t0)
        fold_of = {run.run_id: run.fold for run in plan.runs}
        size = blob_parts(curves, fold_of).size
        times: dict[str, list[float]] = {"shard result": [], "curves streamed": [], "curves joined": [],
                                         "streamed, no fsync": [], "joined, no fsync": []}
        for i in range(args.repeats):
            for name, values in times.items():
                os.fsync = (lambda fd: None) if "no fsync" in name else real_fsync  # type: ignore[assignment]
                store = (_Joined if "joined" in name else LocalStore)(tmp / f"w{i}-{len(values)}-{name[:3]}")
                t0 = time.perf_counter()
                if name == "shard result":
                    write_shard(store, plan.keys, sid, out)
                else:
                    write_curves(store, plan.keys, curves, fold_of)
                values.append(time.perf_counter() - t0)
                os.fsync = real_fsync
                shutil.rmtree(store.root)
    print(f"python {sys.version.split()[0]}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.bars:,} bars, one shard of {len(plan.shards[0].run_ids)} runs: evaluation {min(evals):.3f} s; "
          f"5 runs' curves ({size / 1e6:.0f} MB) derived in {min(derives):.3f} s (best of 3)")
    print(f"writes, best of {args.repeats} (median), alternating:")
    for name, ts in times.items():
        print(f"  {name:20s} {min(ts):6.3f} s  ({statistics.median(ts):.3f} s)")


if __name__ == "__main__":
    main()
