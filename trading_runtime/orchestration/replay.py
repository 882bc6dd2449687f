"""Replay one run of an experiment as a backtest: its parameters, its window and its warm-up exactly.

A shard scores a run's segment on the bars ``[warmup_start, stop)`` with ``start=`` at the segment's
first scored bar; the backtest config built here has ``data.start``/``data.end`` at the segment's first
and last bar and ``data.warmup_bars`` = the segment's warm-up, so ``backtest`` runs the same bars the
same way and its metrics equal the shard result's. A run of a universe replays on its instrument alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from trading_runtime.config import BacktestConfig
from trading_runtime.config.backtest import _ID, StrategyConfig
from trading_runtime.errors import InputError
from trading_runtime.execution.universe import instrument_data
from trading_runtime.planning.keys import split_experiment_location
from trading_runtime.planning.stored import read_plan
from trading_runtime.store import ArtifactStore, open_store

SegmentName = Literal["in_sample", "out_of_sample"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso_us(ns: int) -> str:
    """Epoch nanoseconds → ISO 8601 UTC at microsecond precision (what ``data.start``/``end`` parse)."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


def replay_config(store: ArtifactStore, experiment_id: str, run_id: str,
                  segment: SegmentName | None = None) -> BacktestConfig:
    """The backtest config of run ``run_id`` of the experiment: its ``segment`` (default: the fold's
    out-of-sample segment when it has one, else the in-sample one). Unknown run or segment: InputError."""
    plan = read_plan(store, experiment_id)
    run = plan.run_index().get(run_id)
    where = f"{store.uri.rstrip('/')}: experiment '{experiment_id}'"
    if run is None:
        raise InputError(f"{where}: no run {run_id!r} (the plan has {len(plan.runs)} runs; run ids are in "
                         "summary.json and the shard results)")
    fold = plan.fold_index()[run.fold]
    name: SegmentName = segment or ("out_of_sample" if fold.out_of_sample is not None else "in_sample")
    seg = fold.in_sample if name == "in_sample" else fold.out_of_sample
    if seg is None:
        raise InputError(f"{where}: run {run_id} (fold {fold.id}) has no {name} segment")
    cfg = plan.config
    base, ref = cfg.data, plan.data
    if fold.instrument is not None:  # a universe's run: the config of its instrument alone
        ref = next(i.data for i in plan.instruments or [] if i.symbol == fold.instrument)
        base = instrument_data(cfg.data, fold.instrument, ref.path)
    data = base.model_copy(update={
        "sha256": ref.sha256, "timeframe": ref.timeframe,
        "start": _iso_us(seg.start_ts), "end": _iso_us(seg.stop_ts + 1000),
        "warmup_bars": seg.start - seg.warmup_start,
    })
    return BacktestConfig(
        schema_version=1, id=cfg.id,
        description=f"replay of run {run_id} ({name}, fold {fold.id}) of experiment {experiment_id}",
        data=data, strategy=StrategyConfig(class_path=cfg.strategy.class_path, params=dict(run.params)),
        execution=cfg.execution, risk=cfg.risk, seed=cfg.seed, output=cfg.output,
    )


def experiment_location(uri: str, cwd: Path) -> tuple[ArtifactStore, str]:
    """``<store>/experiments/<id>`` (as ``report --results`` and ``validate`` take it) → (store, id)."""
    location = split_experiment_location(uri)
    if location is None or not _ID.match(location[1]):
        raise InputError(f"backtest: --experiment {uri!r}: expected <store>/experiments/<id>, e.g. "
                         ".runtime/experiments/experiments/<id> or s3://bucket/prefix/experiments/<id>")
    return open_store(location[0], cwd), location[1]
