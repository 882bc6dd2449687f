"""summary.json: run counts, leaderboards by the objective, holdout and walk-forward results.

Leaderboards rank by the in-sample objective (best first, ties broken by run id); runs that break a
constraint, or whose objective is undefined (null), are excluded and counted. Out-of-sample
figures are reported, never optimised. Walk-forward: each fold's in-sample winner, its
out-of-sample metrics, the stitched out-of-sample equity (each fold's winner, chained), and the
walk-forward efficiency = (pooled out-of-sample log growth per bar) / (pooled in-sample log growth
per bar) of the winners, null when the in-sample growth is not positive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.fanin.collect import FanIn, ShardStatus
from trading_runtime.planning.equity_blob import read_series

SUMMARY_SCHEMA_VERSION = 1
SECONDS_PER_YEAR = 365 * 86400


def _log_growth(metrics: dict[str, Any] | None) -> float | None:
    if metrics is None or metrics.get("total_return") is None:
        return None
    g = 1.0 + float(metrics["total_return"])
    return math.log(g) if g > 0 else None


def stitched_metrics(equity: np.ndarray, initial_cash: float, bar_seconds: int) -> dict[str, Any]:
    """total_return, sharpe (per-bar returns, ddof=1, annualised) and max_drawdown of a chained curve."""
    prev = np.concatenate(([initial_cash], equity[:-1]))
    r = equity / prev - 1.0
    std = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    sharpe = float(np.mean(r)) / std * math.sqrt(SECONDS_PER_YEAR / bar_seconds) if std > 0 else None
    peak = np.maximum.accumulate(np.concatenate(([initial_cash], equity)))[1:]
    mdd = float(np.max((peak - equity) / peak)) if len(equity) else 0.0
    return {"n_bars": len(equity), "final_equity": float(equity[-1]),
            "total_return": float(equity[-1] / initial_cash - 1.0), "sharpe": sharpe, "max_drawdown": mdd}


def summarize(fan: FanIn, config: ExperimentConfig, bar_seconds: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(summary document, stitched out-of-sample equity document or None)."""
    plan = fan.plan
    objective = config.objective
    top_k = config.report.top_k
    records: dict[str, dict[str, Any]] = {}
    series: dict[tuple[str, str], tuple[ShardStatus, dict[str, Any]]] = {}
    for status in fan.shards:
        assert status.result is not None
        for rec in status.result["runs"]:
            records[rec["run_id"]] = rec
        for item in status.result["equity"]["series"]:
            series[(item["run_id"], item["segment"])] = (status, item)
    folds_out = []
    winners: list[tuple[Any, dict[str, Any] | None]] = []
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
        entry: dict[str, Any] = {
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
    kind = config.validation.kind
    if kind in ("full", "holdout"):
        summary["leaderboard"] = folds_out[0]["leaderboard"]
    if kind == "holdout":
        best = winners[0][1]
        summary["holdout"] = None if best is None else {
            "best_run_id": best["run_id"], "params": best["params"],
            "in_sample": best["in_sample"], "out_of_sample": best["out_of_sample"]}
    oos_doc = None
    if kind == "walk_forward":
        cash = config.execution.initial_cash
        pieces: list[np.ndarray] = []
        ts_pieces: list[np.ndarray] = []
        fold_rows = []
        level = cash
        is_growth = oos_growth = 0.0
        is_bars = oos_bars = 0
        growth_defined = True
        for fold, best in winners:
            if best is None:
                fold_rows.append({"fold": fold.id, "run_id": None})
                growth_defined = False
                continue
            status, where = series[(best["run_id"], "out_of_sample")]
            blob = status.equity  # read when needed, one shard's blob at a time
            assert blob is not None
            ts, eq = (np.array(a) for a in read_series(blob, where))
            del blob
            pieces.append(eq * (level / cash))
            ts_pieces.append(ts)
            level = float(pieces[-1][-1])
            fold_rows.append({"fold": fold.id, "run_id": best["run_id"], "params": best["params"],
                              "in_sample": best["in_sample"], "out_of_sample": best["out_of_sample"]})
            gi, go = _log_growth(best["in_sample"]), _log_growth(best["out_of_sample"])
            if gi is None or go is None:
                growth_defined = False
            else:
                is_growth += gi
                oos_growth += go
                is_bars += fold.in_sample.stop - fold.in_sample.start
                assert fold.out_of_sample is not None
                oos_bars += fold.out_of_sample.stop - fold.out_of_sample.start
        wfe = None
        if growth_defined and is_bars and oos_bars and is_growth > 0:
            wfe = (oos_growth / oos_bars) / (is_growth / is_bars)
        stitched = None
        if pieces:
            equity = np.concatenate(pieces)
            stitched = stitched_metrics(equity, cash, bar_seconds)
            oos_doc = {"experiment_id": plan.experiment_id, "initial_cash": cash,
                       "ts": np.concatenate(ts_pieces).tolist(), "equity": equity.tolist(),
                       "folds": [r.get("run_id") for r in fold_rows]}
        summary["walk_forward"] = {"folds": fold_rows, "stitched_out_of_sample": stitched,
                                   "walk_forward_efficiency": wfe}
    return summary, oos_doc
