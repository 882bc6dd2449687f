"""The sweep's kernel warm-up (``kernel_warmup.warm_up_for_config``): which parameter set it evaluates before the
sweep has a plan, and that it stays quiet. (That the kernels are then loaded when the shards start, with the
versions the runs use: tests/unit/test_start_up.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.experiment_support import experiment_config
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution import kernel_warmup
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES


def _evaluated(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(kernel_warmup, "evaluate_on_synthetic_bars",
                        lambda config, cls, params: seen.append(dict(params)))
    kernel_warmup.warm_up_for_config(ExperimentConfig.model_validate(doc), "exp.json", DEFAULT_ALLOWED_PREFIXES)
    return seen


def test_the_first_parameter_set_the_strategy_accepts_is_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    # grid order (the last name fastest): (50, 20), (50, 40) are refused (fast must be < slow), (50, 60) is the first
    doc = experiment_config(sweep={"kind": "grid", "params": {"fast": [50, 10], "slow": [20, 40, 60]}})
    assert _evaluated(doc, monkeypatch) == [{"fast": 50, "slow": 60}]


def test_only_the_first_candidates_are_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    """64 refused sets first (fast 200 against 64 slower windows), then valid ones: none is evaluated."""
    refused = {"kind": "grid", "params": {"fast": [200, 5], "slow": list(range(20, 20 + 64))}}
    assert kernel_warmup.WARM_UP_CANDIDATES == 64
    assert _evaluated(experiment_config(sweep=refused), monkeypatch) == []
    one_more = {"kind": "grid", "params": {"fast": [200, 5], "slow": [*range(20, 20 + 63), 300]}}
    assert _evaluated(experiment_config(sweep=one_more), monkeypatch) == [{"fast": 200, "slow": 300}]


def test_a_strategy_that_does_not_load_is_left_to_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = experiment_config(strategy={"class_path": "trading_runtime.strategies.sma_cross:NoSuchStrategy",
                                      "params": {}})
    assert _evaluated(doc, monkeypatch) == []  # no error raised here: the sweep reports it (test_start_up.py)
