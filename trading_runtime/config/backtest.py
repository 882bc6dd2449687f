"""The single-backtest config (``trading_runtime/local/local.json`` is an example)."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from trading_framework import timeframe as framework_timeframe
from trading_runtime.config.base import StrictConfig

DEFAULT_OUTPUT_DIR = ".runtime/local/results"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Longest bar accepted: a bar longer than a year cannot annualise anything (seconds).
MAX_TIMEFRAME_SECONDS = 366 * 86400


_READ_DEFAULTS: dict[str, Any] = {"timeframe": None, "timezone": "UTC", "time_unit": None, "on_invalid": "error",
                                  "warmup_bars": 0, "bars_per_year": None, "instruments": None,
                                  "symbol_column": None, "symbol": None, "path": ""}

SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""An instrument's symbol: a safe directory name, run-id part and store key part."""
SYMBOL_EXPECTED = "1-64 letters, digits, '.', '_' or '-' starting with a letter or digit (a safe directory name)"


class DataConfig(StrictConfig):
    path: str = Field("", description="bars file: a local path (relative: against the working directory) "
                                      "or a store URI (s3://bucket/key, file:///abs/path); required unless "
                                      "data.instruments is given")
    instruments: dict[str, str] | str | None = Field(
        None, description="a universe of instruments: an object {symbol: path or store URI}, or a glob of local "
                          "files (symbol = file stem, sorted); instead of data.path")
    symbol_column: str | None = Field(
        None, min_length=1, description="data.path is one long-format file with this column naming each row's "
                                        "instrument: a universe of its distinct values (sorted), or only "
                                        "data.symbol")
    symbol: str | None = Field(None, description="with data.symbol_column: the one instrument of the file to use")
    sha256: str | None = Field(None, description="pins the file's content: sha256 of its bytes, 64 lower-case hex "
                                                 "characters; a different file is an error (exit 2); a universe: "
                                                 "its identity, universe_sha256 (what stage writes)")
    format: Literal["csv", "parquet"] | None = Field(None, description="from the file suffix when null")
    timeframe: str | None = Field(None, description="bar length: <n><s|m|h|d|w>; annualises Sharpe/Sortino; "
                                                    "null: the bars' most common spacing (a declared one that "
                                                    "contradicts it is an error)")
    start: str | None = Field(None, description="first bar to use (ISO 8601, inclusive; without a zone: "
                                                "in data.timezone)")
    end: str | None = Field(None, description="end of the bars to use (ISO 8601, exclusive; without a zone: "
                                              "in data.timezone)")
    timezone: str = Field("UTC", min_length=1, description="IANA time zone of times written without a zone "
                                                           "(bars, start, end)")
    time_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        None, description="the time column holds integer epoch counts of this unit (null: ISO 8601 text or "
                          "timestamps; a column named ts is epoch nanoseconds)")
    on_invalid: Literal["error", "drop"] = Field(
        "error", description="error: any invalid row is exit 2; drop: rows with a non-positive price, "
                             "OHLC-inconsistent rows and repeated timestamps (the first is kept) are dropped "
                             "and counted")
    warmup_bars: int = Field(0, ge=0, description="bars before data.start fed to the strategy to warm it up, never "
                                                  "traded or scored (a backtest's; an experiment sets its own "
                                                  "top-level warmup_bars)")
    bars_per_year: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="bars in a year for annualising Sharpe and Sortino (e.g. 252 for daily equities); "
                    "null: the calendar rule, 365 days of the timeframe's bars (CAGR always compounds over "
                    "the calendar days from the first bar to the last / 365)")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The reading options are left out at their defaults: configs written before they existed keep
        their identity (config_sha256) and their results' bytes. (A config that left out timeframe,
        then 1m, now has it inferred: its identity changes with its meaning.)"""
        dumped: dict[str, Any] = handler(self)
        for key, default in _READ_DEFAULTS.items():
            if dumped.get(key, default) == default:
                dumped.pop(key, None)
        return dumped

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, v: dict[str, str] | str | None) -> dict[str, str] | str | None:
        if isinstance(v, str) and not v.strip():
            raise ValueError("expected a glob such as data/*.csv (got an empty text)")
        if isinstance(v, dict):
            if not v:
                raise ValueError("expected at least one instrument {symbol: path}")
            for symbol, path in v.items():
                if not SYMBOL.match(symbol):
                    raise ValueError(f"symbol {symbol!r}: expected {SYMBOL_EXPECTED}")
                if not path:
                    raise ValueError(f"{symbol}: expected a path or store URI (got an empty text)")
            folded = [s.casefold() for s in v]
            clash = next((s for s in v if folded.count(s.casefold()) > 1), None)
            if clash is not None:
                raise ValueError(f"symbols differing only in case ({clash!r}): their result folders would collide")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        """data.path or data.instruments (both only... never); data.symbol only with data.symbol_column."""
        if self.instruments is not None and self.path:
            raise ValueError("data.instruments and data.path both name the data: give one (a long-format file: "
                             f"data.path with data.symbol_column) (got path {self.path!r})")
        if self.instruments is None and not self.path:
            raise ValueError("data.path: required key is missing (or give data.instruments) (got no path)")
        if self.symbol_column is not None and self.instruments is not None:
            raise ValueError("data.symbol_column reads the instruments of the one file at data.path: leave out "
                             f"data.instruments (got symbol_column {self.symbol_column!r})")
        if self.symbol is not None and self.symbol_column is None:
            raise ValueError("data.symbol needs data.symbol_column (the column naming each row's instrument) "
                             f"(got symbol {self.symbol!r})")
        if self.symbol is not None and not SYMBOL.match(self.symbol):
            raise ValueError(f"data.symbol: expected {SYMBOL_EXPECTED} (got {self.symbol!r})")
        return self

    @property
    def is_universe(self) -> bool:
        """Several instruments: data.instruments, or a long-format file without data.symbol."""
        return self.instruments is not None or (self.symbol_column is not None and self.symbol is None)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"unknown time zone {v!r}: expected an IANA name such as UTC or "
                             "America/New_York") from None
        return v

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.match(v):
            raise ValueError("expected 64 lower-case hex characters (the sha256 of the file's bytes)")
        return v

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, v: str | None) -> str | None:
        if v is not None and not 0 < framework_timeframe.timeframe_seconds(v) <= MAX_TIMEFRAME_SECONDS:
            raise ValueError(f"timeframe {v!r}: expected a bar of 1s up to 366d (e.g. 1m, 4h, 1d)")
        return v

    @property
    def timeframe_seconds(self) -> int:
        """Seconds per bar; only of a resolved config (``execution.data_source.resolve_timeframe``)."""
        if self.timeframe is None:
            raise RuntimeError("data.timeframe is not resolved: resolve it from the loaded bars first")
        return framework_timeframe.timeframe_seconds(self.timeframe)

    @property
    def annualisation(self) -> float:
        """Bars per year that Sharpe and Sortino are annualised with: ``bars_per_year`` when set,
        else the bars in 365 days of the timeframe (the framework's rule)."""
        return bars_per_year(self.timeframe_seconds, self.bars_per_year)


def bars_per_year(seconds_per_bar: int, override: float | None = None) -> float:
    """Bars per year of ``seconds_per_bar``-second bars: ``override`` (``data.bars_per_year``) when set,
    else the bars in 365 days (the framework's rule). The runtime annualises only with this."""
    return override if override is not None else framework_timeframe.bars_per_year(seconds_per_bar)


def timeframe_bars_per_year(frame: str, override: float | None = None) -> float:
    """``bars_per_year`` of a timeframe such as ``1m`` (read back from a result document)."""
    return bars_per_year(framework_timeframe.timeframe_seconds(frame), override)


class StrategyConfig(StrictConfig):
    class_path: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$",
        description="module:Class, from an allowed module prefix",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="validated by the strategy's Params model")


class ExecutionConfig(StrictConfig):
    initial_cash: float = Field(100_000.0, gt=0, allow_inf_nan=False, description="starting cash")
    fee_bps: float = Field(5.0, ge=0, le=10_000, allow_inf_nan=False, description="fee, bps of traded notional")
    slippage_bps: float = Field(0.0, ge=0, lt=10_000, allow_inf_nan=False, description="bps against the trader")


class RiskConfig(StrictConfig):
    max_leverage: float = Field(1.0, gt=0, le=100, allow_inf_nan=False, description="|target| is clipped to this")
    allow_short: bool = Field(False, description="negative targets become flat when false")
    max_drawdown: float | None = Field(
        None, gt=0, le=1, allow_inf_nan=False, description="flatten and stop trading at this drawdown fraction"
    )


class OutputConfig(StrictConfig):
    dir: str = Field(DEFAULT_OUTPUT_DIR, min_length=1, description="result directory (relative: working directory)")


_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class BacktestConfig(StrictConfig):
    schema_version: Literal[1]
    id: str = Field(pattern=_ID.pattern, description="lower-case name: letters, digits, . _ -")
    description: str = ""
    data: DataConfig
    strategy: StrategyConfig
    execution: ExecutionConfig = ExecutionConfig()
    risk: RiskConfig = RiskConfig()
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of every random choice of the run")
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _data_warmup(self) -> BacktestConfig:
        """data.warmup_bars are bars before data.start: without a start the backtest begins at the first bar,
        there are none, and the warm-up would be silently ignored. (ExperimentConfig overrides this rule.)"""
        if self.data.warmup_bars and self.data.start is None:
            raise ValueError(f"data.warmup_bars ({self.data.warmup_bars}) needs data.start: the warm-up is the bars "
                             "before it, and without it the backtest starts at the first bar (set data.start to the "
                             "first bar to trade, or leave data.warmup_bars out)")
        return self
