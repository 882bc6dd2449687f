"""summary.json: run counts, leaderboards by the objective, and the validation scheme's section.

Leaderboards rank by the in-sample objective (best first, ties broken by run id); runs that break a
constraint, or whose objective is undefined (null), are excluded and counted. Out-of-sample
figures are reported, never optimised. What a scheme adds (the holdout's best, the walk-forward's
stitched out-of-sample equity and efficiency) is its module's ``summary_section`` in
``planning/validation/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.fanin.aggregate import universe_ranking
from trading_runtime.fanin.collect import FanIn
from trading_runtime.planning import Fold
from trading_runtime.planning.equity_blob import Curve
from trading_runtime.planning.validation import SummaryInputs, scheme_for

SUMMARY_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Ranking:
    """Every run record and each window's leaderboard (the global top-K by the in-sample objective,
    constraints met): summary.json's ``folds`` and each window's winner."""

    records: dict[str, dict[str, Any]]
    folds: list[dict[str, Any]]  # summary.json's "folds", in plan order
    winners: list[tuple[Fold, dict[str, Any] | None]]

    def curve_runs(self) -> list[str]:
        """The runs whose equity curves are read (the report, the walk-forward stitch): every window's
        leaderboard, in plan order of the windows, best first."""
        return [row["run_id"] for fold in self.folds for row in fold["leaderboard"]]


def rank_folds(fan: FanIn, config: ExperimentConfig) -> Ranking:
    """The leaderboards of a complete fan-in."""
    plan = fan.plan
    objective = config.objective
    top_k = config.report.top_k
    records: dict[str, dict[str, Any]] = {}
    for status in fan.shards:
        assert status.result is not None
        for rec in status.result["runs"]:
            records[rec["run_id"]] = rec
    folds_out = []
    winners: list[tuple[Fold, dict[str, Any] | None]] = []
    for fold in plan.folds:
        ranked = []
        excluded = undefined = 0
        for run in plan.runs:
            if run.fold != fold.id:
                continue
            rec = records[run.run_id]
            if objective.violations(rec["in_sample"]):
                excluded += 1
                continue
            key = objective.rank_key(rec["in_sample"], run.run_id)
            if key is None:
                undefined += 1
                continue
            ranked.append((key, rec))
        ranked.sort(key=lambda item: item[0])
        board = [{
            "rank": i + 1, "run_id": rec["run_id"], "params": rec["params"],
            "objective": rec["in_sample"][objective.metric],
            "in_sample": rec["in_sample"], "out_of_sample": rec["out_of_sample"],
        } for i, (_, rec) in enumerate(ranked[:top_k])]
        entry: dict[str, Any] = {} if fold.instrument is None else {"instrument": fold.instrument}
        entry |= {
            "id": fold.id,
            "in_sample": {"start_ts": fold.in_sample.start_ts, "stop_ts": fold.in_sample.stop_ts,
                          "n_bars": fold.in_sample.stop - fold.in_sample.start},
            "out_of_sample": None if fold.out_of_sample is None else {
                "start_ts": fold.out_of_sample.start_ts, "stop_ts": fold.out_of_sample.stop_ts,
                "n_bars": fold.out_of_sample.stop - fold.out_of_sample.start},
            "runs": sum(1 for r in plan.runs if r.fold == fold.id),
            "ranked": len(ranked), "excluded_by_constraints": excluded, "undefined_objective": undefined,
            "leaderboard": board,
        }
        folds_out.append(entry)
        winners.append((fold, board[0] if board else None))
    return Ranking(records, folds_out, winners)


def summarize(fan: FanIn, config: ExperimentConfig, bar_seconds: int, ranking: Ranking,
              curves: Mapping[tuple[str, str], Curve]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(summary document, stitched out-of-sample equity document or None). ``curves``: those of
    ``ranking.curve_runs()``, derived by finalize."""
    plan = fan.plan
    objective = config.objective
    top_k = config.report.top_k
    records, folds_out, winners = ranking.records, ranking.folds, ranking.winners
    summary: dict[str, Any] = {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "experiment_id": plan.experiment_id,
        "data": plan.data.model_dump(mode="json", exclude={"path"}),  # the location is provenance (plan.json)
        "strategy": config.strategy.class_path,
        "objective": objective.model_dump(mode="json"),
        "validation": config.validation.model_dump(mode="json"),
        "warmup_bars": plan.warmup_bars,
        "grid": {k: plan.grid[k] for k in ("names", "n_combinations", "n_valid", "n_dropped", "dropped_by_rule")},
        "runs": fan.run_counts(),
        "folds": folds_out,
    }
    scheme = scheme_for(config.validation.kind)
    if plan.instruments is None:
        section, oos_doc = scheme.summary_section(
            SummaryInputs(plan.experiment_id, config, folds_out, winners, curves, bar_seconds))
        summary.update(section)
        return summary, oos_doc
    # A universe: the scheme's section per instrument (its own folds), then the ranking across instruments.
    per_instrument: dict[str, Any] = {}
    oos_docs: dict[str, Any] = {}
    for ref in plan.instruments:
        picked = [i for i, (fold, _) in enumerate(winners) if fold.instrument == ref.symbol]
        section, oos_doc = scheme.summary_section(SummaryInputs(
            plan.experiment_id, config, [folds_out[i] for i in picked], [winners[i] for i in picked], curves,
            bar_seconds))
        per_instrument[ref.symbol] = section
        if oos_doc is not None:
            oos_docs[ref.symbol] = oos_doc
    summary["instruments"] = per_instrument
    summary["universe"] = universe_ranking(plan, records, objective, top_k)
    return summary, ({"instruments": oos_docs} if oos_docs else None)
