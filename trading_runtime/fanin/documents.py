"""The experiment documents as their readers see them: one frozen model per document, parsed once.

``fanin.json`` (written by ``finalize``), ``summary.json`` (written by ``summarize``) and the run
records of a shard's ``result.json`` (written by the shard worker) are parsed into these where they
leave the store (``report.results``, ``orchestration.sweep``, ``cli.finalize``), so readers use
attributes instead of looking keys up in dicts. Unknown keys are rejected: a document that does
not match is a bug or another version, and says so (``parse_document``: one line per problem,
exit 3).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trading_runtime.config.backtest import timeframe_bars_per_year
from trading_runtime.config.experiment import ObjectiveConfig, Validation
from trading_runtime.config.loading import render_validation_error
from trading_runtime.errors import VerificationError

D = TypeVar("D", bound=BaseModel)

# A metrics dict as the framework reports it (``METRIC_NAMES``): undefined values are None.
Metrics = dict[str, float | int | None]


class Document(BaseModel):
    """A stored document's model: unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_document(model: type[D], data: bytes | dict[str, Any], where: str) -> D:
    """A stored document parsed into its model; one line per problem (exit 3: the store holds something
    this version did not write)."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as e:
        raise VerificationError(*render_validation_error(e, where)) from None


class ShardFailure(Document):
    shard_id: str
    reason: str | None


class ShardCounts(Document):
    """fanin.json's ``shards``: the plan's shards by state, with the ids of each."""

    expected: int
    completed: int
    failed: int
    missing: int
    completed_ids: list[str]
    failures: list[ShardFailure]
    missing_ids: list[str]


class RunCounts(Document):
    expected: int
    completed: int
    failed: int
    missing: int


class FanInDocument(Document):
    """fanin.json: exact expected / completed / failed / missing counts, in shards and in runs."""

    experiment_id: str
    shards: ShardCounts
    runs: RunCounts


class RunRecord(Document):
    """One run of a shard's result: a parameter set on one window, its in- and out-of-sample metrics."""

    run_id: str
    fold: str
    params: dict[str, Any]
    in_sample: Metrics
    out_of_sample: Metrics | None


class WindowSpan(Document):
    start_ts: int
    stop_ts: int
    n_bars: int


class LeaderboardRow(Document):
    rank: int
    run_id: str
    params: dict[str, Any]
    objective: float | int | None
    in_sample: Metrics
    out_of_sample: Metrics | None


class FoldSummary(Document):
    instrument: str | None = None  # a universe's: the instrument whose bars the fold cuts
    id: str
    in_sample: WindowSpan
    out_of_sample: WindowSpan | None
    runs: int
    ranked: int
    excluded_by_constraints: int
    undefined_objective: int
    leaderboard: list[LeaderboardRow]

    @property
    def best(self) -> LeaderboardRow | None:
        return self.leaderboard[0] if self.leaderboard else None


class GridSummary(Document):
    names: list[str]
    n_combinations: int
    n_valid: int
    n_dropped: int
    dropped_by_rule: dict[str, int]


class HoldoutSummary(Document):
    best_run_id: str
    params: dict[str, Any]
    in_sample: Metrics
    out_of_sample: Metrics | None


class WalkForwardFold(Document):
    fold: str
    run_id: str | None
    params: dict[str, Any] | None = None
    in_sample: Metrics | None = None
    out_of_sample: Metrics | None = None


class WalkForwardSummary(Document):
    folds: list[WalkForwardFold]
    stitched_out_of_sample: Metrics | None
    walk_forward_efficiency: float | None


class SummaryData(Document):
    """summary.json's ``data``: the plan's DataRef without its location (provenance, in plan.json only)."""

    sha256: str
    n_bars: int
    first_ts: int
    last_ts: int
    timeframe: str
    bars_per_year: float | None = None  # data.bars_per_year, when the config set it
    dropped: dict[str, int] = Field(default_factory=dict)  # rows dropped per rule (data.on_invalid="drop")

    @property
    def annualisation(self) -> float:
        """Bars per year Sharpe and Sortino were annualised with (CAGR takes calendar time)."""
        return timeframe_bars_per_year(self.timeframe, self.bars_per_year)


class ExperimentSummary(Document):
    """summary.json. ``leaderboard`` (full, holdout), ``holdout`` and ``walk_forward`` are the validation
    scheme's section (``planning/validation/``)."""

    schema_version: int
    experiment_id: str
    data: SummaryData
    strategy: str
    objective: ObjectiveConfig
    validation: Validation
    warmup_bars: int
    grid: GridSummary
    runs: dict[str, int]
    folds: list[FoldSummary]
    leaderboard: list[LeaderboardRow] | None = None
    holdout: HoldoutSummary | None = None
    walk_forward: WalkForwardSummary | None = None
    provenance: dict[str, Any] | None = None  # summaries written before provenance.json held it
    instruments: dict[str, InstrumentSection] | None = None  # a universe's: the scheme's section per instrument
    universe: UniverseSummary | None = None  # a universe's: the aggregate ranking


class InstrumentSection(Document):
    """One instrument of a universe: what the validation scheme reports for it (as for one instrument)."""

    leaderboard: list[LeaderboardRow] | None = None
    holdout: HoldoutSummary | None = None
    walk_forward: WalkForwardSummary | None = None


class UniverseInstrument(SummaryData):
    symbol: str


class UniverseRow(Document):
    rank: int
    params: dict[str, Any]
    aggregate: float | None
    mean: float | None
    share_positive: float | None
    instruments: dict[str, float | None]
    out_of_sample: dict[str, float | None] | None


class UniverseMatrix(Document):
    params: list[dict[str, Any]]
    values: list[list[float | None]]


class UniverseSummary(Document):
    """summary.json's ``universe`` (``fanin.aggregate``): parameter sets ranked by the aggregate objective."""

    aggregate: str
    metric: str
    direction: str
    instruments: list[UniverseInstrument]
    parameter_sets: int
    ranked: int
    undefined_aggregate: int
    ranking: list[UniverseRow]
    matrix: UniverseMatrix
