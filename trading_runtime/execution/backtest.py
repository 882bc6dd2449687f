"""A single backtest from a BacktestConfig: data → strategy → framework → result tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from trading_framework import (
    BacktestResult,
    ExecutionSpec,
    FeatureCache,
    Strategy,
    compute_metrics,
    simulate,
)
from trading_runtime.config.backtest import BacktestConfig, DataConfig
from trading_runtime.data import LoadedBars
from trading_runtime.execution.data_source import data_ref, load_data, resolve_timeframe
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.strategy_loader import (
    DEFAULT_ALLOWED_PREFIXES,
    build_params,
    load_strategy_class,
    strategy_target,
)
from trading_runtime.planning import DataRef


@dataclass(frozen=True)
class BacktestRun:
    """What one backtest produced, ready to be written."""

    config: BacktestConfig
    strategy: Strategy
    data: LoadedBars
    result: BacktestResult

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.result.metrics)

    def data_ref(self) -> DataRef:
        return data_ref(self.config.data, self.data)

    def result_params(self) -> dict[str, Any]:
        """The strategy's validated parameters, defaults included."""
        return self.strategy.params.model_dump(mode="json")

    def trade_records(self) -> list[dict[str, Any]]:
        sim = self.result.simulation
        return sim.trades.records(self.data.bars.ts)


def execution_spec(config: BacktestConfig) -> ExecutionSpec:
    return ExecutionSpec(
        initial_cash=config.execution.initial_cash,
        fee_bps=config.execution.fee_bps,
        slippage_bps=config.execution.slippage_bps,
        max_leverage=config.risk.max_leverage,
        allow_short=config.risk.allow_short,
        max_drawdown=config.risk.max_drawdown,
    )


def build_strategy(config: BacktestConfig, source: str,
                   allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES) -> Strategy:
    cls = load_strategy_class(config.strategy.class_path, source, allowed_prefixes)
    return cls(build_params(cls, config.strategy.params, source))


def run_backtest_config(
    config: BacktestConfig,
    source: str,
    base_dir: Path,
    allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
    read: Callable[[], LoadedBars] | None = None,
) -> BacktestRun:
    """Validate the strategy first (cheap), then load the data and run. With ``data.warmup_bars`` the
    bars before ``data.start`` (up to that many) are fed to the strategy first, never traded or scored:
    the bars ``[warmup_start, stop)`` with ``start=`` as a shard runs one segment of an experiment.
    ``read``: ``load_data(config.data, base_dir)`` being run on a thread (``read_ahead``), awaited once the
    strategy is validated."""
    strategy = build_strategy(config, source, allowed_prefixes)
    data = read() if read is not None else load_data(config.data, base_dir)
    config = config.model_copy(update={"data": resolve_timeframe(config.data, data)})
    data, start = _with_warmup(config.data, data, base_dir)
    start_numba()
    bars = data.bars
    target = strategy_target(strategy, bars, FeatureCache(bars))
    sim = simulate(bars, target, execution_spec(config), start=start)
    result = BacktestResult(target, sim, compute_metrics(sim, config.data.annualisation))
    return BacktestRun(config, strategy, data, result)


def _with_warmup(config: DataConfig, window: LoadedBars, base_dir: Path) -> tuple[LoadedBars, int]:
    """The bars with up to ``config.warmup_bars`` bars before the window, and where the window starts."""
    if not config.warmup_bars or config.start is None:
        return window, 0
    whole = load_data(config.model_copy(update={"start": None}), base_dir, window.sha256)
    first = int(np.searchsorted(whole.bars.ts, window.bars.ts[0], side="left"))
    begin = max(0, first - config.warmup_bars)
    bars = whole.bars.slice(begin, len(whole.bars))
    return replace(whole, bars=bars, n_rows=len(bars)), first - begin
