"""Planning (pure): grid expansion, dropped combinations, folds, run/shard/experiment ids.

Folds are checked on a hand-made timeline: 100 one-minute bars from 2024-01-01T00:00Z (bar i at
minute i), so a duration of m minutes is m bars and every expected index below is worked out by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from pydantic import ValidationError

from tests.experiment_support import PARQUET, experiment_config, write_json
from trading_runtime.cli.main import main
from trading_runtime.config.experiment import ExperimentConfig, GridSweep, RangeSpec, Validation
from trading_runtime.errors import InputError
from trading_runtime.execution.experiment import params_check
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import (
    DataRef,
    Fold,
    Segment,
    Sharding,
    experiment_id,
    plan_experiment,
    read_plan,
    shard_runs,
    validation,
    write_plan,
)
from trading_runtime.planning.plan import plan_folds
from trading_runtime.store import open_store, write_complete
from trading_runtime.strategies.sma_cross import SmaCross

T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
MINUTE = 60 * 10**9
N = 100
TS = T0 + np.arange(N, dtype=np.int64) * MINUTE
DATA = DataRef(path="bars.parquet", sha256="ab" * 32, n_bars=N, first_ts=int(TS[0]), last_ts=int(TS[-1]),
               timeframe="1m")
SOURCE = "exp.json"


WALK_FORWARD = {"kind": "walk_forward", "train": "20m", "test": "10m", "step": "10m"}


def config(**overrides: Any) -> ExperimentConfig:
    """The shared test config (12 SMA pairs), on this module's timeline: 7 walk-forward folds, 10 warm-up bars."""
    return ExperimentConfig.model_validate(
        experiment_config(**{"validation": WALK_FORWARD, "warmup_bars": 10, **overrides}))


def plan(cfg: ExperimentConfig, ts: np.ndarray = TS, data: DataRef = DATA):
    return plan_experiment(cfg, SOURCE, data, ts, 60, params_check(SmaCross, SOURCE),
                           lambda p: SmaCross(SmaCross.Params.model_validate(p)).warmup_bars())


def seg(warmup_start: int, start: int, stop: int) -> Segment:
    return Segment(warmup_start=warmup_start, start=start, stop=stop, start_ts=int(TS[start]),
                   stop_ts=int(TS[stop - 1]))


def folds(validation: dict[str, Any], warmup: int = 10) -> list[Fold]:
    return plan_folds(config(validation=validation), TS, warmup, 60, SOURCE)


# -- grid expansion ---------------------------------------------------------------------------------


def test_float_ranges_expand_with_exact_decimal_steps():
    values = RangeSpec(start=0.1, stop=0.3, step=0.1).values()
    assert values == [0.1, 0.2, 0.3]  # not 0.30000000000000004, and 0.3 is not lost to rounding
    assert all(type(v) is float for v in values)
    # float accumulation would give 0.1, 0.2, 0.30000000000000004 and stop short of 0.7
    assert RangeSpec(start=0.1, stop=0.7, step=0.1).values() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert RangeSpec(start=0, stop=1, step=0.3).values() == [0.0, 0.3, 0.6, 0.9]  # stop not on the grid
    assert RangeSpec(start=1, stop=2, step=0.25).values() == [1.0, 1.25, 1.5, 1.75, 2.0]


def test_integer_ranges_stay_integers():
    values = RangeSpec(start=10, stop=60, step=10).values()
    assert values == [10, 20, 30, 40, 50, 60]
    assert all(type(v) is int for v in values)
    assert RangeSpec(start=5, stop=5, step=3).values() == [5]


def test_grid_is_sorted_by_name_and_deduplicated_keeping_first_occurrence():
    sweep = GridSweep.model_validate({"kind": "grid", "params": {
        "slow": [60, 30, 60, 30], "fast": {"start": 0.5, "stop": 1.5, "step": 0.5}, "flag": [True, 1, True]}})
    grid = sweep.expanded()
    assert list(grid) == ["fast", "flag", "slow"]
    assert grid["slow"] == [60, 30]
    assert grid["fast"] == [0.5, 1.0, 1.5]
    # True and 1 are different values of different types: both kept, and kept apart
    assert grid["flag"] == [True, 1]
    assert [type(v) for v in grid["flag"]] == [bool, int]


def test_dropped_combinations_are_counted_with_their_reasons():
    p = plan(config(sweep={"kind": "grid", "params": {"fast": [0, 10, 20, 30], "slow": [20, 30]}},
                    validation={"kind": "full"}, warmup_bars=5))
    g = p.grid
    assert g["n_combinations"] == 8
    # kept: (10, 20), (10, 30), (20, 30); dropped: fast 0 twice (bound), (20, 20), (30, 20), (30, 30) (rule)
    assert [r.params for r in p.runs] == [{"fast": 10, "slow": 20}, {"fast": 10, "slow": 30},
                                          {"fast": 20, "slow": 30}]
    assert (g["n_valid"], g["n_dropped"]) == (3, 5)
    assert g["dropped_by_rule"] == {
        "fast (N) must be < slow (N)": 3,
        "fast: Input should be greater than or equal to N (got N)": 2,
    }
    assert g["dropped_examples"] == [
        {"params": {"fast": 0, "slow": 20}, "reason": "fast: Input should be greater than or equal to 1 (got 0)"},
        {"params": {"fast": 0, "slow": 30}, "reason": "fast: Input should be greater than or equal to 1 (got 0)"},
        {"params": {"fast": 20, "slow": 20}, "reason": "fast (20) must be < slow (20)"},
        {"params": {"fast": 30, "slow": 20}, "reason": "fast (30) must be < slow (20)"},
        {"params": {"fast": 30, "slow": 30}, "reason": "fast (30) must be < slow (30)"},
    ]


def test_base_params_complete_the_grid():
    p = plan(config(strategy={"params": {"fast": 3}},
                    sweep={"kind": "grid", "params": {"slow": [20, 30]}}, validation={"kind": "full"}))
    assert [r.params for r in p.runs] == [{"fast": 3, "slow": 20}, {"fast": 3, "slow": 30}]


def test_a_param_both_fixed_and_swept_is_refused():
    """Issue 10: the grid used to win silently over strategy.params; which one was meant is ambiguous."""
    with pytest.raises(ValidationError, match=r"sweep\.params\.slow is searched and also fixed in "
                                              r"strategy\.params\.slow \(= 40\): remove one of the two"):
        config(strategy={"params": {"fast": 3, "slow": 40}}, sweep={"kind": "grid", "params": {"slow": [20, 30]}})


def test_every_combination_dropped_is_a_config_error():
    with pytest.raises(InputError) as e:
        plan(config(sweep={"kind": "grid", "params": {"fast": [50], "slow": [20, 30]}}))
    assert e.value.lines == ("exp.json: sweep.params: every one of the 2 combinations is rejected by the strategy "
                             "(e.g. fast (50) must be < slow (20))",)


@pytest.mark.parametrize(("params", "line"), [
    ({"fast": [10, "20"], "slow": [60]}, 'exp.json: sweep.params.fast: Input should be a valid integer (got "20")'),
    ({"fast": [10], "slow": [60.5]}, "exp.json: sweep.params.slow: Input should be a valid integer (got 60.5)"),
    ({"fast": [10], "slwo": [60]}, "exp.json: sweep.params.slwo: unknown key (did you mean 'slow'?)"),
])
def test_wrong_type_or_unknown_param_in_the_sweep_is_an_input_error(params, line):
    with pytest.raises(InputError) as e:
        plan(config(sweep={"kind": "grid", "params": params}, validation={"kind": "full"}))
    assert e.value.exit_code == 2
    assert e.value.lines == (line,)


# -- folds ------------------------------------------------------------------------------------------


def test_full_scores_everything_after_the_warm_up():
    assert folds({"kind": "full"}) == [Fold(id="full", in_sample=seg(0, 10, 100))]


def test_holdout_by_fraction_holds_out_the_last_share_of_the_scored_bars():
    # 90 scored bars, floor(90 * 0.25) = 22 held out: split at bar 78; the out-of-sample warm-up is
    # the 10 bars before it (in-sample bars, read for the indicators only)
    assert folds({"kind": "holdout", "test_fraction": 0.25}) == [
        Fold(id="holdout", in_sample=seg(0, 10, 78), out_of_sample=seg(68, 78, 100))]


@pytest.mark.parametrize(("test_start", "split"), [
    ("2024-01-01T01:00:00Z", 60),  # exactly bar 60
    ("2024-01-01T01:00:30Z", 61),  # between bars: the first bar at or after it
    ("2024-01-01T01:00:00", 60),  # no zone: UTC
    ("2024-01-01T02:00:00+01:00", 60),  # an offset
])
def test_holdout_by_test_start_splits_at_the_first_bar_at_or_after_it(test_start, split):
    assert folds({"kind": "holdout", "test_start": test_start}) == [
        Fold(id="holdout", in_sample=seg(0, 10, split), out_of_sample=seg(split - 10, split, 100))]


def test_walk_forward_rolls_train_and_test_windows_by_step():
    # t0 = bar 10; fold k: in-sample [10 + 10k, 30 + 10k), out-of-sample [30 + 10k, 40 + 10k),
    # while 40 + 10k <= 100 (the data ends after bar 99): k = 0..6
    got = folds({"kind": "walk_forward", "train": "20m", "test": "10m", "step": "10m"})
    assert got == [Fold(id=f"wf-{k:03d}", in_sample=seg(10 * k, 10 + 10 * k, 30 + 10 * k),
                        out_of_sample=seg(20 + 10 * k, 30 + 10 * k, 40 + 10 * k)) for k in range(7)]


def test_anchored_walk_forward_grows_the_in_sample_from_the_first_scored_bar():
    got = folds({"kind": "walk_forward", "train": "20m", "test": "10m", "step": "10m", "anchored": True})
    assert got == [Fold(id=f"wf-{k:03d}", in_sample=seg(0, 10, 30 + 10 * k),
                        out_of_sample=seg(20 + 10 * k, 30 + 10 * k, 40 + 10 * k)) for k in range(7)]


def test_walk_forward_step_defaults_to_test():
    # train 30, test 15, step 15: fold k in-sample [10 + 15k, 40 + 15k), out-of-sample to 55 + 15k <= 100: k = 0..3
    got = folds({"kind": "walk_forward", "train": "30m", "test": "15m"})
    assert [(f.in_sample.start, f.in_sample.stop, f.out_of_sample.stop) for f in got] == [
        (10, 40, 55), (25, 55, 70), (40, 70, 85), (55, 85, 100)]


def test_walk_forward_that_does_not_fit_is_a_config_error():
    with pytest.raises(InputError) as e:
        folds({"kind": "walk_forward", "train": "1h", "test": "1h"})
    assert e.value.lines == ("exp.json: validation: walk-forward train 1h + test 1h does not fit the data after "
                             "warm-up (90 bars of 60s)",)


def test_holdout_before_the_first_scored_bar_is_a_config_error():
    with pytest.raises(InputError) as e:
        folds({"kind": "holdout", "test_start": "2024-01-01T00:05:00Z"})
    assert e.value.lines == ("exp.json: validation: the holdout leaves no in-sample or no out-of-sample bars "
                             "(split at bar 5 of 100, first scored bar 10)",)


def test_warm_up_longer_than_the_data_is_a_config_error():
    with pytest.raises(InputError) as e:
        folds({"kind": "full"}, warmup=100)
    assert e.value.lines == ("exp.json: warmup_bars: 100 warm-up bars leave nothing to score (the data has 100 bars)",)


def test_auto_warm_up_covers_the_slowest_strategy_and_the_deciding_bar():
    # SmaCross(slow=s) is flat for its first s - 1 bars; the close of the last warm-up bar decides the
    # position at the first scored open, so it must be warm too: s - 1 + 1 = s bars
    p = plan(config(sweep={"kind": "grid", "params": {"fast": [5], "slow": [20, 30]}}, validation={"kind": "full"},
                    warmup_bars="auto"))
    assert p.warmup_bars == 30
    assert p.folds[0].in_sample == seg(0, 30, 100)
    assert plan(config(warmup_bars=7, validation={"kind": "full"})).warmup_bars == 7


# -- ids --------------------------------------------------------------------------------------------


def test_run_ids_stay_the_same_when_the_grid_grows():
    small = plan(config(sweep={"kind": "grid", "params": {"fast": [5, 10], "slow": [30]}},
                        validation={"kind": "holdout", "test_fraction": 0.5}, warmup_bars=10))
    grown = plan(config(sweep={"kind": "grid", "params": {"fast": [5, 10, 20], "slow": [30, 40]}},
                        validation={"kind": "holdout", "test_fraction": 0.5}, warmup_bars=10))
    before = {(r.fold, tuple(sorted(r.params.items()))): r.run_id for r in small.runs}
    after = {(r.fold, tuple(sorted(r.params.items()))): r.run_id for r in grown.runs}
    assert len(before) == 2 and len(after) == 6
    assert {k: after[k] for k in before} == before
    assert small.experiment_id != grown.experiment_id  # the grid is part of what decides the results
    assert all(re.fullmatch(r"run-[0-9a-f]{16}", r.run_id) for r in grown.runs)


def test_run_ids_differ_between_folds():
    p = plan(config(sweep={"kind": "grid", "params": {"fast": [5], "slow": [30]}},
                    validation={"kind": "walk_forward", "train": "20m", "test": "10m"}, warmup_bars=10))
    assert len({r.run_id for r in p.runs}) == len(p.runs) == 7


def test_shards_are_zero_padded_and_cover_every_run_once_in_order():
    p = plan(config(shards={"runs_per_shard": 4}))  # 12 pairs × 7 folds = 84 runs → 21 shards
    ids = [s.shard_id for s in p.shards]
    assert ids == [f"shard-{i:05d}" for i in range(21)]
    assert ids == sorted(ids)
    assert [rid for s in p.shards for rid in s.run_ids] == [r.run_id for r in p.runs]
    assert {len(s.run_ids) for s in p.shards} == {4}
    assert p.split == "rps-4"
    ragged = plan(config(shards={"runs_per_shard": 50}))
    assert [len(s.run_ids) for s in ragged.shards] == [50, 34]


def test_shard_runs_grow_to_keep_to_max_shards():
    ids = [f"run-{i:04d}" for i in range(1001)]
    shards, sharding = shard_runs(ids, 10, 100)  # 101 shards at 10 → 11 runs per shard: 91 shards
    assert sharding == Sharding(runs_per_shard=11, requested_runs_per_shard=10, max_shards=100, grown=True)
    assert len(shards) == 91 and [rid for s in shards for rid in s.run_ids] == ids
    assert sharding.describe() == "11 runs per shard, grown from 10 to keep to shards.max_shards 100"
    shards, sharding = shard_runs(ids, 11, 100)  # fits: unchanged
    assert not sharding.grown and len(shards) == 91
    shards, sharding = shard_runs(ids[:1000], 10, 100)  # exactly max_shards
    assert not sharding.grown and len(shards) == 100


def test_a_75000_run_grid_keeps_to_1000_shards():
    """Issue 9 §4: 75,000 runs at runs_per_shard 10 planned 7,500 shards (15,000 Argo nodes with retries)."""
    grid = {"kind": "grid", "params": {"fast": {"start": 2, "stop": 151, "step": 1},
                                       "slow": {"start": 200, "stop": 699, "step": 1}}}
    p = plan(config(sweep=grid, validation={"kind": "full"}, shards={"runs_per_shard": 10}))
    assert len(p.runs) == 75_000
    assert len(p.shards) == 1000 and {len(s.run_ids) for s in p.shards} == {75}
    assert p.sharding == Sharding(runs_per_shard=75, requested_runs_per_shard=10, max_shards=1000, grown=True)
    assert p.split == "rps-75"
    assert [rid for s in p.shards for rid in s.run_ids] == [r.run_id for r in p.runs]


def test_plan_dry_run_says_when_runs_per_shard_grew(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write_json(tmp_path / "big.json", experiment_config(
        sweep={"kind": "grid", "params": {"fast": {"start": 5, "stop": 24, "step": 1}, "slow": [30, 60, 90, 120]}},
        shards={"runs_per_shard": 1, "max_shards": 50}))  # 80 pairs × 5 folds = 400 runs
    assert main(["plan", "--config", str(path), "--dry-run", "--log-format", "json"]) == 0
    err = capsys.readouterr().err
    assert "  shards 50 (8 runs per shard, grown from 1 to keep to shards.max_shards 50)\n" in err
    warning = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{") and "max_shards" in ln]
    assert [w["level"] for w in warning] == ["warning"]


def test_experiment_id_ignores_how_work_is_split_and_where_it_is_stored():
    ref = config()
    sha = "cd" * 32
    base = experiment_id(ref, sha)
    assert re.fullmatch(r"exp-test-[0-9a-f]{12}", base)
    for same in (config(shards={"runs_per_shard": 1}), config(shards={"max_shards": 3}),
                 config(store="s3://bucket/elsewhere"), config(description="other words"),
                 config(data={"path": "s3://bucket/datasets/x.parquet"}), config(data={"sha256": sha})):
        assert experiment_id(same, sha) == base
    for other in (config(execution={"fee_bps": 2.0}), config(seed=8),
                  config(objective={"metric": "sortino"}), config(report={"top_k": 3})):
        assert experiment_id(other, sha) != base
    assert experiment_id(ref, "ef" * 32) != base  # other data


def test_plan_is_deterministic():
    a = plan(config())
    b = plan(config())
    assert a.model_dump_json() == b.model_dump_json()


# -- the plan command on a kind it does not run -----------------------------------------------------


def test_plan_of_an_optuna_config_is_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cfg = experiment_config(sweep={"kind": "optuna", "sampler": {"seed": 1}, "n_trials": 8},
                            data={"path": str(PARQUET)})
    path = write_json(tmp_path / "optuna.json", cfg)
    code = main(["plan", "--config", str(path), "--dry-run", "--log-format", "json"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("{")]
    assert code == 2
    assert err == [f"{path}: sweep.kind: 'optuna' searches run with 'trading-runtime optimize'; "
                   "plan and sweep take kind 'grid'"]


# -- validation schemes -----------------------------------------------------------------------------


def test_every_validation_kind_of_the_config_has_exactly_one_scheme():
    union = get_args(get_args(Validation)[0])
    kinds = {get_args(model.model_fields["kind"].annotation)[0] for model in union}
    assert kinds == set(validation.SCHEMES) == {"full", "holdout", "walk_forward"}
    assert all(scheme.kind == kind for kind, scheme in validation.SCHEMES.items())


def test_plan_folds_cuts_the_windows_of_the_configured_scheme_only(monkeypatch):
    """The planner asks the registry: a scheme registered under a kind decides that kind's windows."""
    class OneWindow:
        kind = "holdout"

        def windows(self, v, ts, warmup, bar_seconds, source):
            return [Fold(id="only", in_sample=seg(warmup - 10, warmup, 50))]

        def summary_section(self, inputs):
            raise AssertionError("not called at planning")

    monkeypatch.setitem(validation.SCHEMES, "holdout", OneWindow())
    assert folds({"kind": "holdout", "test_fraction": 0.5}) == [Fold(id="only", in_sample=seg(0, 10, 50))]
    assert [f.id for f in folds({"kind": "full"})] == ["full"]


def test_a_stored_plan_is_parsed_once_into_a_typed_config_and_a_bad_one_is_one_line():
    store = open_store("memory://typed-plan")
    planned = plan(config())
    write_plan(store, planned)
    read = read_plan(store, planned.experiment_id)
    assert isinstance(read.config, ExperimentConfig) and read.config == planned.config
    assert read.config.validation.kind == "walk_forward"  # attributes, no re-validation by its readers
    doc = planned.model_dump(mode="json")
    doc["config"]["execution"]["fee_bps"] = -1  # a plan edited by hand
    write_complete(store, planned.keys.plan, canonical_bytes(doc))
    with pytest.raises(InputError) as e:
        read_plan(store, planned.experiment_id)
    assert list(e.value.lines) == [f"memory://typed-plan/experiments/{planned.experiment_id}/plan.json: "
                                   "config.execution.fee_bps: Input should be greater than or equal to 0 (got -1)"]
