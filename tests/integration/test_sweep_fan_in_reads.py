"""How the sweep's fan-in and report read the curves (issue 13): the shards write no equity; the sweep's
finalize derives the curves in its own process and its report takes them from memory (curves.f64 is written,
never read back by the sweep); a report made later from the store streams the blob once, never whole; the
files written are those of the plain steps (every shard, then finalize, then a report from the store).
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.experiment_support import QuietProgress, experiment_config, tree_files
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import run_shard
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.orchestration.finalize import finalize
from trading_runtime.orchestration.sweep import plan_sweep, run_sweep
from trading_runtime.planning import write_plan
from trading_runtime.planning.equity_blob import extract_series, read_series
from trading_runtime.report import load_experiment, write_report
from trading_runtime.report.experiment import _charted
from trading_runtime.store import LocalStore

PROVENANCE = {"runtime": {"version": "test"}}
CONFIGS = {
    "walk_forward": experiment_config(),  # 12 pairs × 5 folds in shards of 7 runs, top 2 derived
    "holdout": experiment_config(validation={"kind": "holdout", "test_fraction": 0.25},
                                 shards={"runs_per_shard": 3}, report={"top_k": 3}),
}


class _CountingStore(LocalStore):
    """A local store that counts reads of each key, whole (get_bytes) and streamed (read_chunks)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.whole: Counter[str] = Counter()
        self.streamed: Counter[str] = Counter()

    def get_bytes(self, key: str) -> bytes:
        self.whole[key] += 1
        return super().get_bytes(key)

    def read_chunks(self, key: str, size: int) -> Iterator[memoryview]:
        self.streamed[key] += 1
        return super().read_chunks(key, size)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_sweep_never_reads_the_curves_back_and_a_later_report_streams_them_once(tmp_path: Path,
                                                                                   name: str) -> None:
    config = ExperimentConfig.model_validate(CONFIGS[name])
    plan, inputs = plan_sweep(config, "exp.json", Path.cwd(), DEFAULT_ALLOWED_PREFIXES)
    store = _CountingStore(tmp_path / "sweep")
    result = run_sweep(store, plan, inputs, 1, lambda total, done: QuietProgress(), PROVENANCE)
    assert result.fanin.shards.completed == len(plan.shards) > 2
    blob = plan.keys.curves_blob
    assert store.exists(blob)
    assert (store.whole[blob], store.streamed[blob]) == (0, 0)  # the sweep's report took them from memory

    res = load_experiment(store, plan.experiment_id)
    assert [key for key in _charted(res) if key in res.stored.entries]  # the report charts derived curves
    write_report(res)
    assert (store.whole[blob], store.streamed[blob]) == (0, 1)  # one streamed pass for every charted curve


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_sweep_writes_the_files_of_the_plain_steps(tmp_path: Path, name: str) -> None:
    config = ExperimentConfig.model_validate(CONFIGS[name])
    plan, inputs = plan_sweep(config, "exp.json", Path.cwd(), DEFAULT_ALLOWED_PREFIXES)
    swept = LocalStore(tmp_path / "sweep")
    run_sweep(swept, plan, inputs, 1, lambda total, done: QuietProgress(), PROVENANCE)

    plain = LocalStore(tmp_path / "plain")
    write_plan(plain, plan, exclusive=True)
    for shard in plan.shards:
        run_shard(plain, plan, shard.shard_id, inputs)
    finalize(plain, plan.experiment_id, PROVENANCE)  # loads the data itself, as the CLI step does
    write_report(load_experiment(plain, plan.experiment_id))
    assert tree_files(swept.root) == tree_files(plain.root)


def test_series_are_copied_out_of_a_streamed_blob_without_holding_it() -> None:
    n, k = 200_000, 5
    rng = np.random.default_rng(3)
    ts = np.arange(n, dtype="<i8") * 60_000_000_000
    equities = [np.cumsum(rng.normal(size=n)) + 1e5 for _ in range(k)]
    blob = ts.tobytes() + b"".join(e.astype("<f8").tobytes() for e in equities)
    entries = [{"run_id": f"r{i}", "segment": "in_sample", "ts_offset": 0, "offset": ts.nbytes * (1 + i),
                "length": n} for i in range(k)]
    pieces = [blob[i:i + 65536] for i in range(0, len(blob), 65536)]
    tracemalloc.start()
    try:
        digest, series = extract_series(iter(pieces), entries)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest == hashlib.sha256(blob).hexdigest()
    for (got_ts, got_eq), entry in zip(series, entries, strict=True):
        want_ts, want_eq = read_series(blob, entry)
        assert got_ts.dtype == want_ts.dtype and got_eq.dtype == want_eq.dtype
        np.testing.assert_array_equal(got_ts, want_ts)
        np.testing.assert_array_equal(got_eq, want_eq)
    assert all(s[0] is series[0][0] for s in series)  # one window: one timestamps array
    copied = ts.nbytes * (1 + k)
    # what is copied out, plus a few pieces' worth: never the blob a second time
    assert peak < copied + 4 * 65536, (peak, copied)
