"""The Optuna result documents as the report reads them: one frozen model per document, parsed once.

``optimize finalize`` writes them (``optimize.results.result_documents``) into
``<store>/optimize/<study>/results/``; ``report.results.load_study`` parses each into its model
where it leaves the store, so ``report.optuna`` reads attributes. Unknown keys are rejected (exit
3, one line per problem): a document that does not match is a bug or another version. Numbers
keep their JSON type (``Num``), so the report formats them as it always has.

Variants: a universe study adds ``aggregate`` to ``optimization_history.json`` and each trial's
per-instrument values (``instruments``); several objectives add ``pareto_front.json``
(``ParetoFront``) and give every trial a ``best_value_so_far`` of null; a study with no complete
trial has a null best (``trial``, ``params``, ``values``) and null performance blocks; an
objective whose importances could not be computed has a ``reason`` instead.
"""

from __future__ import annotations

from typing import Any, Literal

from trading_runtime.config.experiment import (
    Aggregate,
    ConstraintsConfig,
    ObjectiveSpec,
    SamplerConfig,
    SearchParam,
    Validation,
)
from trading_runtime.fanin.documents import Document, Metrics, SummaryData, WindowSpan

Num = int | float  # as written: an int stays an int, a float a float


class BestParameters(Document):
    """best_parameters.json: the selected trial (null when no trial completed)."""

    schema_version: int
    study_id: str
    objectives: list[ObjectiveSpec]
    selection: str
    trial: int | None
    params: dict[str, Any] | None
    values: list[Num] | None


class FoldMetrics(Document):
    fold: str
    metrics: Metrics


class SegmentPerformance(Document):
    """The best trial's metrics in one segment: the mean over the windows and each window's."""

    mean: Metrics
    folds: list[FoldMetrics]
    note: str | None = None  # out-of-sample only


class SelectionStatistics(Document):
    returns: str
    n_returns: int
    sharpe_per_bar: Num | None
    skewness: Num | None
    kurtosis: Num | None
    benchmark_sharpe: Num
    probabilistic_sharpe_ratio: Num | None
    n_trials: int
    n_trials_with_sharpe: int
    sharpe_variance_across_trials: Num | None
    expected_max_sharpe: Num | None
    deflated_sharpe_ratio: Num | None


class PerformanceMetrics(Document):
    """performance_metrics.json: the best trial re-evaluated (null blocks when there is no best)."""

    schema_version: int
    study_id: str
    trial: int | None
    in_sample: SegmentPerformance | None
    out_of_sample: SegmentPerformance | None
    selection_statistics: SelectionStatistics | None


class TrialRow(Document):
    number: int
    generation: int | None
    state: str  # optuna's TrialState name: COMPLETE, FAIL, ...
    params: dict[str, Any]
    values: list[Num] | None
    fail_reason: str | None
    in_sample_sharpe: Num | None
    best_value_so_far: Num | None  # null with several objectives
    instruments: dict[str, list[Num] | None] | None = None  # a universe: each instrument's values (null: undefined)

    @property
    def complete(self) -> bool:
        """Complete with values (what the charts and the leaderboard plot)."""
        return self.state == "COMPLETE" and bool(self.values)

    @property
    def objective_values(self) -> list[Num]:
        return self.values or []


class OptimizationHistory(Document):
    """optimization_history.json: every trial, in number order."""

    schema_version: int
    study_id: str
    objectives: list[ObjectiveSpec]
    trials: list[TrialRow]
    aggregate: Aggregate | None = None  # a universe only: how the per-instrument values make a trial's value

    @property
    def symbols(self) -> list[str]:
        """A universe's instruments (empty for one instrument)."""
        return sorted({s for t in self.trials for s in t.instruments or {}})


class ObjectiveImportance(Document):
    metric: str
    direction: Literal["maximize", "minimize"]
    importances: dict[str, Num] | None
    ranking: list[str] | None
    reason: str | None  # why the importances are null


class ParamImportances(Document):
    schema_version: int
    study_id: str
    method: str
    method_detail: str
    objectives: list[ObjectiveImportance]


class ParetoTrial(Document):
    number: int
    params: dict[str, Any]
    values: list[Num]


class ParetoFront(Document):
    """pareto_front.json (several objectives only)."""

    schema_version: int
    study_id: str
    objectives: list[ObjectiveSpec]
    trials: list[ParetoTrial]


class TrialCounts(Document):
    trials: int
    complete: int
    failed: int
    invalid_parameters: int
    unfinished: int


class StudyFold(Document):
    id: str
    in_sample: WindowSpan
    out_of_sample: WindowSpan | None


class StudyMetadata(Document):
    """metadata.json: the study's identity, data, windows, space, sampler, budget, counts, provenance."""

    schema_version: int
    study_id: str
    mode: Literal["generations", "async"]
    study_sha256: str
    initial_cash: Num
    strategy: str
    fixed_params: dict[str, Any]
    data: SummaryData
    validation: Validation
    warmup_bars: int
    folds: list[StudyFold]
    space: dict[str, SearchParam]
    sampler: SamplerConfig
    objectives: list[ObjectiveSpec]
    constraints: ConstraintsConfig
    n_trials: int
    batch_size: int
    generations: int | None  # generations mode only
    counts: TrialCounts
    provenance: dict[str, Any] | None = None  # absent from the golden copies (it names this checkout's commits)
