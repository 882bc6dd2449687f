"""The search space (config or strategy bounds), trial values from folds, and the study's config checks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.optimize_support import metrics, synthetic_config, synthetic_manifest
from trading_runtime.config.experiment import OBJECTIVE_METRICS, ConstraintsConfig, ExperimentConfig, ObjectiveSpec
from trading_runtime.errors import InputError
from trading_runtime.execution.search import declared_space
from trading_runtime.optimize.objective import evaluate_trial, mean_metrics
from trading_runtime.optimize.space import distributions, resolve_space, space_corners, trial_params
from trading_runtime.strategies.rsi_reversion import RsiReversion
from trading_runtime.strategies.sma_cross import SmaCross


def sweep(**kw):
    doc = {"kind": "optuna", "sampler": {"name": "tpe", "seed": 1}, "n_trials": 10, **kw}
    return synthetic_config().sweep.model_validate(doc)


def test_a_missing_space_comes_from_the_strategys_declared_bounds():
    space = resolve_space(sweep(), {}, declared_space(SmaCross), "SmaCross", "c.json")
    assert {k: v.model_dump() for k, v in space.items()} == {
        "fast": {"type": "int", "low": 1, "high": 10_000, "step": 1, "log": False},
        "slow": {"type": "int", "low": 2, "high": 10_000, "step": 1, "log": False},
    }
    # parameters fixed in strategy.params are not searched
    space = resolve_space(sweep(), {"window": 14}, declared_space(RsiReversion), "RsiReversion", "c.json")
    assert list(space) == ["lower", "upper"]
    assert space["lower"].model_dump() == {"type": "float", "low": 1.0, "high": 50.0, "step": None, "log": False}


def test_distributions_follow_the_config_and_names_are_sorted():
    s = sweep(space={"slow": {"type": "int", "low": 20, "high": 400, "log": True},
                     "band": {"type": "float", "low": 0.5, "high": 3.0, "step": 0.1},
                     "mode": {"type": "categorical", "choices": ["a", "b"]},
                     "fast": {"type": "int", "low": 5, "high": 50}})
    declared = {n: {"type": t, "low": None, "high": None, "choices": c} for n, t, c in
                [("slow", "int", None), ("band", "float", None), ("mode", "categorical", ["a", "b"]),
                 ("fast", "int", None)]}
    space = resolve_space(s, {}, declared, "S", "c.json")
    d = distributions(space)
    assert list(d) == ["band", "fast", "mode", "slow"]
    assert d["slow"] == IntDistribution(20, 400, log=True)
    assert d["band"] == FloatDistribution(0.5, 3.0, step=0.1)
    assert d["mode"] == CategoricalDistribution(["a", "b"])
    # Optuna's stepped float 0.5 + 2 * 0.1 = 0.7000000000000001 is reported as 0.7
    assert trial_params(space, {"band": 0.5 + 2 * 0.1, "fast": 7, "mode": "a", "slow": 30}, {"k": 1}) == \
        {"band": 0.7, "fast": 7, "k": 1, "mode": "a", "slow": 30}
    corners = space_corners(space)
    assert corners is not None and len(corners) == 16
    assert {"band": 3.0, "fast": 50, "mode": "b", "slow": 400} in corners


@pytest.mark.parametrize("space,line", [
    ({"fastt": {"type": "int", "low": 5, "high": 50}},
     "c.json: sweep.space.fastt: SmaCross has no parameter 'fastt' (its parameters: fast, slow)"),
    ({"fast": {"type": "int", "low": 0, "high": 50}}, "c.json: sweep.space.fast.low: below the strategy's bound 1 "
                                                      "(got 0)"),
    ({"slow": {"type": "int", "low": 20, "high": 20000}},
     "c.json: sweep.space.slow.high: above the strategy's bound 10000 (got 20000)"),
    ({"fast": {"type": "int", "low": 5, "high": 50, "step": 10}},
     "c.json: sweep.space.fast: high - low (45) must be a multiple of step (10)"),
    ({"fast": {"type": "float", "low": 5, "high": 50}}, 'c.json: sweep.space.fast.type: SmaCross.fast is int '
                                                        '(got "float")'),
])
def test_a_bad_space_is_one_line_naming_the_json_path(space, line):
    with pytest.raises(InputError) as e:
        resolve_space(sweep(space=space), {}, declared_space(SmaCross), "SmaCross", "c.json")
    assert e.value.lines == (line,)


@pytest.mark.parametrize("extra,line", [
    ({"sampler": {"name": "nsga2", "seed": 1}, "batch_size": 1},
     "synthetic.json: sweep.batch_size: nsga2 needs a population (batch) of at least 2 (got 1)"),
    ({"sampler": {"name": "cmaes", "seed": 1}, "objectives": [{"metric": "sharpe"}, {"metric": "cagr"}]},
     "synthetic.json: sweep.sampler.name: cmaes optimises one objective (got 2 objectives; use nsga2, tpe, "
     "random or qmc)"),
    ({"objectives": [{"metric": "sharpe"}, {"metric": "sharpe", "direction": "minimize"}]},
     "synthetic.json: sweep.objectives: each metric at most once (got ['sharpe', 'sharpe'])"),
    ({"n_trials": 20000, "batch_size": 1},
     "synthetic.json: sweep.batch_size: n_trials 20000 / batch_size 1 makes 20000 generations; at most 10000 "
     "(raise batch_size)"),
])
def test_search_settings_the_study_cannot_run_are_refused(extra, line):
    with pytest.raises(InputError) as e:
        synthetic_manifest(synthetic_config(**extra))
    assert e.value.lines == (line,)


def test_a_grid_sweep_or_a_top_level_objective_is_refused():
    doc = synthetic_config().model_dump(mode="json")
    doc["objective"] = {"metric": "cagr"}
    with pytest.raises(InputError) as e:
        synthetic_manifest(ExperimentConfig.model_validate(doc))
    assert e.value.lines == ("synthetic.json: objective: not used by optuna searches: set sweep.objectives and "
                             "sweep.constraints instead",)
    doc = synthetic_config().model_dump(mode="json")
    doc["sweep"] = {"kind": "grid", "params": {"x": [1]}}
    with pytest.raises(InputError, match=r"sweep\.kind: 'optimize' runs kind 'optuna' searches"):
        synthetic_manifest(ExperimentConfig.model_validate(doc))


def test_warmup_auto_is_the_largest_of_the_spaces_valid_corners():
    doc = synthetic_config().model_dump(mode="json")
    doc["warmup_bars"] = "auto"
    m = synthetic_manifest(ExperimentConfig.model_validate(doc), check=lambda p: None)
    assert m.warmup_bars == 0  # the synthetic strategy has none
    from tests.optimize_support import DECLARED
    from trading_runtime.optimize.study import plan_study
    big = plan_study(ExperimentConfig.model_validate(doc), "s.json", m.data, __import__("numpy").arange(1000) * 60,
                     60, DECLARED, lambda p: "rejected" if p["y"] > 0 else None,
                     lambda p: int(abs(p["x"]) * 10 + abs(p["y"])))
    assert big.warmup_bars == 60  # x = ±5, y = -10 (y = 10 is rejected)


def test_a_trial_is_the_in_sample_mean_over_folds_and_fails_honestly():
    objs = [ObjectiveSpec(metric="sharpe", direction="maximize")]
    ok = evaluate_trial(objs, ConstraintsConfig(), [("a", {"in_sample": metrics(1.0), "out_of_sample": metrics(9.0)}),
                                                    ("b", {"in_sample": metrics(2.0), "out_of_sample": metrics(-9.0)})])
    assert ok.state == "COMPLETE" and ok.values == [1.5]
    assert ok.evaluation["out_of_sample"]["sharpe"] == 0.0  # reported, not told
    undefined = evaluate_trial(objs, ConstraintsConfig(), [("a", {"in_sample": metrics(None), "out_of_sample": None})])
    assert (undefined.state, undefined.evaluation["fail_reason"]) == ("FAIL", "fold a: sharpe undefined")
    broke = evaluate_trial(objs, ConstraintsConfig(min_trades=5, max_drawdown=0.2),
                           [("a", {"in_sample": metrics(3.0, n_trades=2, max_drawdown=0.3), "out_of_sample": None})])
    assert broke.state == "FAIL"
    assert broke.evaluation["fail_reason"] == "fold a: n_trades 2 < min_trades 5; fold a: max_drawdown 0.3 > 0.2"
    assert mean_metrics([metrics(1.0), None]) is None


_METRIC = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6),
                    st.sampled_from([-0.0, 1e-320, 1e308, -1e308]))


def reference_mean_metrics(per_fold):
    """``mean_metrics`` written plainly: what it must equal (each metric's mean over the folds, math.fsum in fold
    order; null where any fold's is null or not finite)."""
    if not per_fold or any(m is None for m in per_fold):
        return None
    out = {}
    for name in OBJECTIVE_METRICS:
        vals = [m[name] for m in per_fold]
        if any(v is None or not math.isfinite(float(v)) for v in vals):
            out[name] = None
        else:
            out[name] = math.fsum(float(v) for v in vals) / len(vals)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.fixed_dictionaries({name: _METRIC for name in OBJECTIVE_METRICS})),
                max_size=5))
def test_mean_metrics_equals_its_plain_form(per_fold):
    def outcome(f):
        try:
            return f(per_fold)
        except OverflowError as e:  # fsum of finite values beyond the float range: both raise
            return repr(e)

    fast, plain = outcome(mean_metrics), outcome(reference_mean_metrics)
    assert repr(fast) == repr(plain)  # the same values, NaN-free, -0.0 and all (repr tells -0.0 from 0.0)
    if isinstance(fast, dict):
        assert list(fast) == list(OBJECTIVE_METRICS)


@pytest.mark.parametrize("value", [-0.0, 0.0, 1e-320, -1e308, 0.1, 3, -(10**6), None, math.nan, math.inf, -math.inf])
def test_mean_metrics_of_one_fold_is_its_plain_form(value):
    """One fold (a study without walk-forward) takes a path of its own: each value as the plain form gives it."""
    per_fold = [{name: value for name in OBJECTIVE_METRICS}]
    assert repr(mean_metrics(per_fold)) == repr(reference_mean_metrics(per_fold))
