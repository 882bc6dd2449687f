"""An experiment's data: read for its config, or read again for its plan and checked against it.

This module, and what it imports, import no numba (the framework's package is lazy: ``Bars`` and
``validate_bars`` come from its numba-free ``bars`` module). So a step can read its data on a thread
(``data.background.in_background``: Parquet decoding, numpy's copies and sha256 release the GIL) from the
moment its config or plan is parsed, while numba, the framework's kernels and the strategy are imported and
the kernels loaded; ``experiment.load_inputs`` and ``experiment.planned_inputs`` take such a reading.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.data import LoadedBars
from trading_runtime.errors import InputError
from trading_runtime.execution.data_source import load_data, resolve_timeframe
from trading_runtime.execution.universe import check_universe_pin, instrument_data, load_universe, resolve_universe
from trading_runtime.planning import DataRef, Plan


@dataclass(frozen=True)
class ExperimentData:
    """The bars a step evaluates on: ``data`` for one instrument, or ``instruments`` (symbol → bars, only
    those a step needs) with ``paths`` (where each was read from) for a universe; ``config`` is the
    experiment's with its data resolved (the timeframe; a universe's instruments)."""

    config: ExperimentConfig
    data: LoadedBars | None
    instruments: Mapping[str, LoadedBars] | None = None
    paths: Mapping[str, str] | None = None


def read_config_data(config: ExperimentConfig, source: str, base_dir: Path, sha256: str | None = None,
                     pinned_by: str = "data.sha256", validated_sha256: str | None = None) -> ExperimentData:
    """The data of ``config`` (``sha256`` pins it when the config does not; ``validated_sha256``: see
    ``load_data``)."""
    if config.data.is_universe:
        members = resolve_universe(config.data, base_dir, source)
        data_config, instruments = load_universe(config.data, members, base_dir)
        check_universe_pin(config.data, {s: one.sha256 for s, one in instruments.items()}, source)
        return ExperimentData(config.model_copy(update={"data": data_config}), None, instruments,
                              {m.symbol: m.data.path for m in members})
    data = load_data(config.data, base_dir, sha256, pinned_by, validated_sha256=validated_sha256)
    return ExperimentData(config.model_copy(update={"data": resolve_timeframe(config.data, data)}), data)


def read_planned_data(plan: Plan, base_dir: Path, shard_id: str | None = None,
                      reuse: Mapping[str, LoadedBars] | None = None,
                      symbols: Collection[str] | None = None) -> ExperimentData:
    """The data ``plan`` was made from, read again and checked to be the one planned. A universe's
    instruments: only those of shard ``shard_id`` when given (a shard loads what it needs), or only
    ``symbols`` (finalize: those whose curves it derives), else all; those in ``reuse`` are not read again
    (checked against the plan all the same)."""
    if plan.instruments is not None:
        return _read_planned_universe(plan, base_dir, shard_id, reuse, symbols)
    # Pinned to the planned bytes: a verified cached copy is used without a download. The plan was made from
    # bytes with this sha256, read and validated with this config's options (no plan without that): bytes that
    # hash to it pass the bar rules again, so they are not re-run (the sha256 check stays: other bytes are
    # refused, exit 2, before anything is evaluated).
    got = read_config_data(plan.config, f"plan {plan.experiment_id}", base_dir, plan.data.sha256,
                           f"the plan's data sha256 (experiment {plan.experiment_id})",
                           validated_sha256=plan.data.sha256)
    assert got.data is not None
    check_planned(plan.config.data.path, got.data, plan.data)
    return got


def _read_planned_universe(plan: Plan, base_dir: Path, shard_id: str | None,
                           reuse: Mapping[str, LoadedBars] | None,
                           symbols: Collection[str] | None) -> ExperimentData:
    """A universe plan's instruments (see ``read_planned_data``), each pinned to its planned sha256 and
    checked against its planned bar count."""
    assert plan.instruments is not None
    config = plan.config
    spec = plan.shard(shard_id) if shard_id is not None else None
    wanted = set(plan.instrument_symbols(spec.run_ids)) if spec is not None else \
        (set(symbols) if symbols is not None else None)
    instruments: dict[str, LoadedBars] = {}
    for ref in plan.instruments:
        if wanted is not None and ref.symbol not in wanted:
            continue
        one = instrument_data(config.data, ref.symbol, ref.data.path)
        loaded = reuse[ref.symbol] if reuse is not None and ref.symbol in reuse else load_data(
            one, base_dir, ref.data.sha256, f"the plan's data sha256 of {ref.symbol} (experiment {plan.experiment_id})",
            validated_sha256=ref.data.sha256)  # validated by the plan (see read_planned_data)
        check_planned(f"{ref.data.path} ({ref.symbol})", loaded, ref.data)
        instruments[ref.symbol] = loaded
    data_config = config.data.model_copy(update={"timeframe": plan.data.timeframe})
    return ExperimentData(config.model_copy(update={"data": data_config}), None, instruments,
                          {ref.symbol: ref.data.path for ref in plan.instruments if ref.symbol in instruments})


def check_planned(name: str, loaded: LoadedBars, planned: DataRef) -> None:
    """InputError when the bars loaded are not the ones planned (other bytes, or another row count)."""
    if loaded.sha256 != planned.sha256 or len(loaded.bars) != planned.n_bars:
        raise InputError(f"{name}: data changed since planning: sha256 {loaded.sha256[:12]}, "
                         f"{len(loaded.bars)} bars (plan: {planned.sha256[:12]}, {planned.n_bars} bars)")
