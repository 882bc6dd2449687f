"""The sweep's finalize and report with more than one worker (issue 13, eighth pass): the workers of the
shards' pool derive most curves into shared memory, then render the report's equity section and compute the
moments of each window's best in-sample returns, and finalize's last writes run on a thread while the report is
rendered. Every file is the same bytes
as with one worker (and as the plain steps, tests/integration/test_sweep_fan_in_reads.py), whichever process
did the work, also when a worker fails or dies there (this process then does it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import QuietProgress, experiment_config, tree_files
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.orchestration import sweep
from trading_runtime.orchestration.sweep import plan_sweep, run_sweep
from trading_runtime.report import selection
from trading_runtime.store import LocalStore
from trading_runtime.store.memory import MemoryStore

PROVENANCE = {"runtime": {"version": "test"}}
CONFIGS = {
    "walk_forward": experiment_config(),  # 12 pairs × 5 windows in shards of 7 runs: 5 best runs, 8 shards
    "holdout": experiment_config(validation={"kind": "holdout", "test_fraction": 0.25},
                                 shards={"runs_per_shard": 3}, report={"top_k": 3}),
    "full": experiment_config(validation={"kind": "full"}, shards={"runs_per_shard": 5}),
    "one_shard": experiment_config(shards={"runs_per_shard": 1000}),  # no pool: the moments are computed here
}


def _sweep(tmp: Path, name: str, config: dict[str, Any], workers: int,
           monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes], int]:
    """(every file the sweep wrote, how many return moments this process computed)."""
    plan, inputs = plan_sweep(ExperimentConfig.model_validate(config), "exp.json", Path.cwd(),
                              DEFAULT_ALLOWED_PREFIXES)
    calls = []
    real = selection.return_moments

    def counted(equity: Any, initial: float) -> Any:
        calls.append(os.getpid())
        return real(equity, initial)

    with monkeypatch.context() as patch:
        patch.setattr(selection, "return_moments", counted)
        store = LocalStore(tmp / name)
        result = run_sweep(store, plan, inputs, workers, lambda total, done: QuietProgress(), PROVENANCE)
    assert result.fanin.shards.completed == len(plan.shards)
    return tree_files(store.root), sum(1 for pid in calls if pid == os.getpid())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_two_workers_write_the_bytes_of_one(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    one, computed_by_one = _sweep(tmp_path, "one", CONFIGS[name], 1, monkeypatch)
    two, computed_here = _sweep(tmp_path, "two", CONFIGS[name], 2, monkeypatch)
    assert two == one
    windows = 1 if name in ("holdout", "full") else 5
    assert computed_by_one == windows  # one worker: the report computes every window's best's moments
    # two workers: a worker of the pool computed them (this process none), except without a pool (one shard)
    assert computed_here == (windows if name == "one_shard" else 0)
    assert any(key.endswith("report.html") for key in two) and any(key.endswith("curves.f64") for key in two)


def _fails(*args: Any) -> Any:
    raise RuntimeError("planted failure of a worker's part of the tail")


def _dies(*args: Any) -> Any:
    os._exit(9)  # the worker process dies: the pool is broken


@pytest.mark.parametrize("part", ["_derive_shared", "_shared_moments", "_shared_equity_section"])
@pytest.mark.parametrize("planted", [_fails, _dies], ids=["raises", "dies"])
def test_a_failing_worker_in_the_tail_leaves_the_same_bytes(tmp_path: Path, part: str, planted: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    one, _ = _sweep(tmp_path, "one", CONFIGS["walk_forward"], 1, monkeypatch)
    monkeypatch.setattr(sweep, part, planted)  # inherited by the forked workers
    two, computed_here = _sweep(tmp_path, "two", CONFIGS["walk_forward"], 2, monkeypatch)
    assert two == one
    # this process computed the moments after all (when the curves were not derived on the pool, it does not ask
    # a worker for them)
    assert computed_here == (0 if part == "_shared_equity_section" else 5)


def _best_runs(files: dict[str, bytes]) -> list[str]:
    summary = json.loads(next(data for key, data in files.items() if key.endswith("/summary.json")))
    return [fold["leaderboard"][0]["run_id"] for fold in summary["folds"] if fold["leaderboard"]]


def test_the_workers_derive_the_curves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With two workers this process derives none of the curves (it writes each window's timestamps meanwhile):
    the workers write them into the shared blob, whose bytes are curves.f64 as one worker writes it, the best
    runs dealt first (their moments are computed right after their curves), one to each worker in turn."""
    from trading_runtime.execution import curves
    from trading_runtime.orchestration import finalize

    derived_here: list[str] = []
    real = curves.derive_curves

    def counted(plan: Any, inputs: Any, run_ids: list[str]) -> Any:
        derived_here.extend(run_ids)  # a forked worker extends its own copy of the list
        return real(plan, inputs, run_ids)

    monkeypatch.setattr(curves, "derive_curves", counted)
    monkeypatch.setattr(finalize, "derive_curves", counted)  # finalize's own reference (one worker)
    one, _ = _sweep(tmp_path, "one", CONFIGS["walk_forward"], 1, monkeypatch)
    everything = list(derived_here)
    assert len(everything) == 10  # 5 windows × top 2
    best = _best_runs(one)
    derived_here.clear()
    two, _ = _sweep(tmp_path, "two", CONFIGS["walk_forward"], 2, monkeypatch)
    assert derived_here == []
    blob = next(key for key in two if key.endswith("curves.f64"))
    assert two[blob] == one[blob] and len(two[blob]) > 0
    groups = sweep.deal_curve_runs(everything, set(best), 2)
    assert sorted(groups[0] + groups[1]) == sorted(everything)
    assert [[rid for rid in group if rid in best] for group in groups] == [best[0::2], best[1::2]]


@pytest.mark.parametrize("name", ["walk_forward", "holdout"])
def test_a_best_runs_moments_are_computed_by_the_worker_that_derived_its_curve(
        tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each window's best in-sample return moments are computed on the worker that derived that run's curve, right
    after (not in a task of their own after every curve): each process notes, in one file, the curves it derived
    (the sha256 of their equity) and the equity whose moments it computed."""
    from trading_runtime.execution import curves

    notes = tmp_path / "notes.txt"
    real_derive, real_moments = curves.derive_curves, selection.return_moments

    def note(line: str) -> None:
        with notes.open("a") as fh:  # one short appended write per line: lines of processes do not mix
            fh.write(f"{os.getpid()} {line}\n")

    def derive(plan: Any, inputs: Any, run_ids: list[str]) -> Any:
        got = real_derive(plan, inputs, run_ids)
        for (rid, segment), (_, equity) in sorted(got.items()):
            note(f"derived {rid} {segment} {hashlib.sha256(equity.tobytes()).hexdigest()}")
        return got

    def moments(equity: Any, initial: float) -> Any:
        note(f"moments {hashlib.sha256(equity.tobytes()).hexdigest()}")
        return real_moments(equity, initial)

    monkeypatch.setattr(curves, "derive_curves", derive)
    monkeypatch.setattr(selection, "return_moments", moments)
    two, _ = _sweep(tmp_path, "two", CONFIGS[name], 2, monkeypatch)
    lines = [line.split() for line in notes.read_text().splitlines()]
    derived = {(rid, segment): (int(pid), digest, n) for n, (pid, kind, *rest) in enumerate(lines)
               if kind == "derived" for rid, segment, digest in [rest]}
    computed = {digest: (int(pid), n) for n, (pid, kind, *rest) in enumerate(lines) if kind == "moments"
                for digest in rest}
    best = _best_runs(two)
    assert best
    for rid in best:
        pid, digest, at = derived[rid, "in_sample"]
        assert pid != os.getpid()  # a worker derived it
        assert computed[digest][0] == pid and computed[digest][1] > at  # and then computed its moments


def test_a_memory_store_sweep_with_two_workers_writes_the_bytes_of_one() -> None:
    """No worker process can write into a memory:// store: no pool, the writes thread all the same."""
    config = ExperimentConfig.model_validate(CONFIGS["walk_forward"])
    got = []
    for workers in (1, 2):
        plan, inputs = plan_sweep(config, "exp.json", Path.cwd(), DEFAULT_ALLOWED_PREFIXES)
        store = MemoryStore()
        run_sweep(store, plan, inputs, workers, lambda total, done: QuietProgress(), PROVENANCE)
        got.append({key: store.get_bytes(key) for key in store.list_keys("")})
    assert got[0] == got[1]
    assert any(key.endswith("report.html") for key in got[1])
