"""The universe's aggregate ranking on a hand-built case: a parameter set that works on most instruments beats
the set that is best on a single instrument under median, min and share_positive (mean rewards the total)."""

from __future__ import annotations

from typing import Any

import pytest

from trading_runtime.config.experiment import ObjectiveConfig
from trading_runtime.fanin.aggregate import aggregate_value, universe_ranking
from trading_runtime.planning import DataRef, Fold, InstrumentRef, Plan, PlannedRun, Segment

# in-sample Sharpe per instrument (one full-window fold each)
SHARPE = {
    # "one-hit": the best on AAA by far, loses everywhere else
    "one-hit": {"AAA": 5.0, "BBB": -1.0, "CCC": -1.0, "DDD": -1.0},
    # "broad": modest, positive on three of four instruments
    "broad": {"AAA": 0.5, "BBB": 0.4, "CCC": 0.3, "DDD": -0.1},
    # "never": negative everywhere
    "never": {"AAA": -0.2, "BBB": -0.3, "CCC": -0.1, "DDD": -0.4},
}
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
SEGMENT = Segment(warmup_start=0, start=10, stop=100, start_ts=10, stop_ts=99)


def metrics(sharpe: float | None) -> dict[str, Any]:
    return {"sharpe": sharpe, "n_trades": 10, "max_drawdown": 0.1}


def hand_built(sharpe: dict[str, dict[str, float | None]]) -> tuple[Plan, dict[str, dict[str, Any]]]:
    folds = [Fold(id=f"{s}.full", in_sample=SEGMENT, instrument=s) for s in SYMBOLS]
    runs, records = [], {}
    for name, values in sharpe.items():
        for s in SYMBOLS:
            run_id = f"run-{name}-{s}"
            runs.append(PlannedRun(run_id=run_id, fold=f"{s}.full", params={"set": name}))
            records[run_id] = {"run_id": run_id, "fold": f"{s}.full", "params": {"set": name},
                               "in_sample": metrics(values[s]), "out_of_sample": None}
    ref = DataRef(path="x", sha256="0" * 64, n_bars=100, first_ts=0, last_ts=99, timeframe="1m")
    plan = Plan.model_construct(
        experiment_id="hand-built", folds=folds, runs=runs, data=ref,
        instruments=[InstrumentRef(symbol=s, data=ref) for s in SYMBOLS])
    return plan, records


def ranked_sets(aggregate: str) -> list[str]:
    plan, records = hand_built(SHARPE)
    doc = universe_ranking(plan, records, ObjectiveConfig(aggregate=aggregate), top_k=10)  # type: ignore[arg-type]
    return [row["params"]["set"] for row in doc["ranking"]]


@pytest.mark.parametrize("aggregate", ["median", "min", "share_positive"])
def test_a_set_that_works_on_most_instruments_beats_the_best_on_one(aggregate: str) -> None:
    assert ranked_sets(aggregate)[0] == "broad"


def test_mean_rewards_the_total_so_the_one_hit_set_wins_it() -> None:
    assert ranked_sets("mean") == ["one-hit", "broad", "never"]  # mean 0.5 > 0.275 > -0.25


def test_the_aggregate_values_of_the_hand_built_case() -> None:
    plan, records = hand_built(SHARPE)
    doc = universe_ranking(plan, records, ObjectiveConfig(aggregate="share_positive"), top_k=10)
    rows = {row["params"]["set"]: row for row in doc["ranking"]}
    assert [rows[s]["aggregate"] for s in ("broad", "one-hit", "never")] == [0.75, 0.25, 0.0]
    assert rows["broad"]["mean"] == pytest.approx(0.275)
    assert rows["broad"]["instruments"] == SHARPE["broad"]
    median = ObjectiveConfig(aggregate="median")
    assert aggregate_value(list(SHARPE["broad"].values()), median) == pytest.approx(0.35)
    assert aggregate_value(list(SHARPE["one-hit"].values()), median) == -1.0


def test_min_is_the_worst_instrument_in_the_objectives_direction() -> None:
    values = [0.1, 0.3, 0.2]
    assert aggregate_value(values, ObjectiveConfig(aggregate="min")) == 0.1
    assert aggregate_value(values, ObjectiveConfig(aggregate="min", direction="minimize")) == 0.3


def test_an_undefined_instrument_leaves_a_set_unranked_except_by_share_positive() -> None:
    sharpe = {**SHARPE, "gap": {"AAA": 1.0, "BBB": 1.0, "CCC": 1.0, "DDD": None}}
    plan, records = hand_built(sharpe)
    doc = universe_ranking(plan, records, ObjectiveConfig(aggregate="median"), top_k=10)
    assert doc["undefined_aggregate"] == 1 and "gap" not in [r["params"]["set"] for r in doc["ranking"]]
    doc = universe_ranking(plan, records, ObjectiveConfig(aggregate="share_positive"), top_k=10)
    assert [r["params"]["set"] for r in doc["ranking"]][:2] == ["broad", "gap"]  # 0.75 each; broad has a mean


def test_an_optuna_trial_over_a_universe_is_told_the_aggregate_of_its_instruments() -> None:
    from trading_runtime.config.experiment import ConstraintsConfig, ObjectiveSpec
    from trading_runtime.optimize.objective import evaluate_trial

    def folds(values: dict[str, float | None]) -> list[tuple[str, dict[str, Any]]]:
        return [(f"{s}.full", {"run_id": f"r-{s}", "in_sample": {**dict.fromkeys(METRIC_NAMES, 1.0), **metrics(v)},
                               "out_of_sample": None}) for s, v in values.items()]

    where = {f"{s}.full": s for s in SYMBOLS}
    objectives, constraints = [ObjectiveSpec()], ConstraintsConfig()
    broad = evaluate_trial(objectives, constraints, folds(SHARPE["broad"]), where, ObjectiveConfig(aggregate="median"))
    one_hit = evaluate_trial(objectives, constraints, folds(SHARPE["one-hit"]), where,
                             ObjectiveConfig(aggregate="median"))
    assert broad.values == [pytest.approx(0.35)] and one_hit.values == [-1.0]  # the broad set is told the better
    gap = folds({**SHARPE["broad"], "DDD": None})
    failed = evaluate_trial(objectives, constraints, gap, where, ObjectiveConfig(aggregate="mean"))
    assert failed.state == "FAIL" and failed.evaluation["fail_reason"] == \
        "mean of sharpe undefined (DDD: fold DDD.full: sharpe undefined)"
    share = evaluate_trial(objectives, constraints, gap, where, ObjectiveConfig(aggregate="share_positive"))
    assert (share.state, share.values) == ("COMPLETE", [0.75])
    assert share.evaluation["instruments"]["DDD"]["fail_reason"] == "fold DDD.full: sharpe undefined"


METRIC_NAMES = ("final_equity", "total_return", "cagr", "sortino", "max_drawdown_duration_bars", "calmar",
                "win_rate", "profit_factor", "exposure", "turnover", "fees_paid")
