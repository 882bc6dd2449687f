"""The executor's model of Argo: depends on a fan-out with failed items, result trimming, retries."""

from __future__ import annotations

import pytest

from tests.cluster.argo_expressions import (
    Attempt,
    ExpressionError,
    TaskState,
    evaluate_depends,
    evaluate_retry,
    evaluate_when,
    fan_out_phase,
)
from tests.cluster.argo_local_run import should_retry, trim_parameter, trim_result

FAN_IN = "run-shard.Succeeded || run-shard.Skipped || run-shard.Failed || run-shard.Errored"


@pytest.mark.parametrize(("items", "phase"), [
    ((), "Skipped"),                                   # empty withParam
    (("Succeeded", "Succeeded"), "Succeeded"),
    (("Succeeded", "Failed", "Succeeded"), "Failed"),  # one failed item fails the TaskGroup
    (("Failed", "Error"), "Error"),                    # the last failed-or-errored item's phase
    (("Error", "Failed"), "Failed"),
])
def test_fan_out_phase_follows_the_controller(items, phase):
    assert fan_out_phase(items) == phase


@pytest.mark.parametrize(("expression", "items", "runs"), [
    ("run-shard", ("Succeeded", "Succeeded"), True),
    ("run-shard", ("Succeeded", "Failed"), False),     # bare name: Succeeded || Skipped || Daemoned
    ("run-shard", (), True),                           # Skipped counts for a bare name
    (FAN_IN, ("Succeeded", "Failed"), True),
    (FAN_IN, ("Error",), True),
    ("run-shard.Succeeded || run-shard.Failed", ("Error",), False),
    ("run-shard.AnySucceeded", ("Failed", "Succeeded"), True),
    ("run-shard.AllFailed", ("Failed", "Succeeded"), False),
    ("plan && !(run-shard.Failed)", ("Failed",), False),
])
def test_depends_on_a_fan_out(expression, items, runs):
    states = {"plan": TaskState("Succeeded"), "run-shard": TaskState(fan_out_phase(items), tuple(items))}
    assert evaluate_depends(expression, states) is runs


def test_depends_rejects_what_it_does_not_know():
    with pytest.raises(ExpressionError, match="unknown result 'Done'"):
        evaluate_depends("plan.Done", {"plan": TaskState("Succeeded")})
    with pytest.raises(ExpressionError, match="unexpected end"):
        evaluate_depends("(plan", {"plan": TaskState("Succeeded")})


def test_result_is_stdout_less_one_trailing_newline_and_its_last_256_kb():
    assert trim_result('["shard-00000"]\n') == '["shard-00000"]'
    assert trim_result("done\n\n") == "done\n"
    assert trim_result("x" * 300_000 + "END\n") == ("x" * 300_000 + "END")[-262_144:]
    assert trim_parameter("exp-1\n") == "exp-1" and trim_parameter("exp-1") == "exp-1"


def test_retries_only_where_the_expression_says():
    strategy = {"limit": "2", "retryPolicy": "Always",
                "expression": 'asInt(lastRetry.exitCode) == 75 || lastRetry.status == "Error"'}
    assert should_retry(strategy, Attempt(75, "Failed"), 1)
    assert should_retry(strategy, Attempt(-1, "Error", "pod deleted"), 2)
    assert not should_retry(strategy, Attempt(75, "Failed"), 3)  # limit 2: three attempts in all
    assert not should_retry(strategy, Attempt(2, "Failed"), 1)
    assert not should_retry({}, Attempt(75, "Failed"), 1)  # no retryStrategy: never
    assert not should_retry({**strategy, "retryPolicy": "OnFailure"}, Attempt(-1, "Error"), 1)
    assert evaluate_retry('lastRetry.message matches "node shutdown"',
                          Attempt(-1, "Failed", "Pod was terminated in response to imminent node shutdown."))


def test_when_comparisons():
    assert evaluate_when("'' == '' && 'main' != 'dev'")
    assert not evaluate_when("'0003' == 'done'")
