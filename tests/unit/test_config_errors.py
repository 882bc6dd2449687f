"""Bad configs: exit 2, one exact line per problem, no traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trading_runtime.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if not ln.startswith("{") and not ln.startswith("INFO")]
    return code, lines


def _bad(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    cfg = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


_DELETE = object()

CASES = [
    ("misspelled key", "execution.fee_bp", 5.0,
     ["{f}: execution.fee_bp: unknown key (did you mean 'fee_bps'?)"]),
    ("unknown top-level key", "strategey", {},
     ["{f}: strategey: unknown key (did you mean 'strategy'?)"]),
    ("wrong type", "execution.initial_cash", "100000",
     ['{f}: execution.initial_cash: Input should be a valid number (got "100000")']),
    ("string for int param", "strategy.params", {"fast": "1O", "slow": 120},
     ['{f}: strategy.params.fast: Input should be a valid integer (got "1O")']),
    ("negative fee", "execution.fee_bps", -1.0,
     ["{f}: execution.fee_bps: Input should be greater than or equal to 0 (got -1.0)"]),
    ("bad schema version", "schema_version", 2,
     ["{f}: schema_version: Input should be 1 (got 2)"]),
    ("missing data", "data", _DELETE,
     ["{f}: data: required key is missing"]),
    ("bad timeframe", "data.timeframe", "1x",
     ['{f}: data.timeframe: timeframe \'1x\': expected a number and a unit s, m, h, d or w (e.g. 1m, 4h) (got "1x")']),
    ("fast >= slow", "strategy.params", {"fast": 50, "slow": 10},
     ["{f}: strategy.params: fast (50) must be < slow (10) (got {{\"fast\": 50, \"slow\": 10}})"]),
    ("param out of bounds", "strategy.params", {"fast": 0, "slow": 10},
     ["{f}: strategy.params.fast: Input should be greater than or equal to 1 (got 0)"]),
    ("unknown param", "strategy.params", {"fast": 5, "slow": 10, "slwo": 3},
     ["{f}: strategy.params.slwo: unknown key (did you mean 'slow'?)"]),
    ("class path not allowed", "strategy.class_path", "os.path:join",
     ["{f}: strategy.class_path: module 'os.path' is not allowed (allowed prefixes: trading_runtime.strategies)"]),
    ("class path missing module", "strategy.class_path", "trading_runtime.strategies.nope:Nope",
     ['{f}: strategy.class_path: no module named \'trading_runtime.strategies.nope\' '
      '(got "trading_runtime.strategies.nope:Nope")']),
    ("class path missing class", "strategy.class_path", "trading_runtime.strategies.sma_cross:SmaCros",
     ["{f}: strategy.class_path: module 'trading_runtime.strategies.sma_cross' has no class 'SmaCros' "
      '(got "trading_runtime.strategies.sma_cross:SmaCros")']),
    ("class path malformed", "strategy.class_path", "sma_cross",
     ["{f}: strategy.class_path: String should match pattern "
      "'^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$' (got \"sma_cross\")"]),
    ("missing data file", "data.path", "nowhere/bars.csv",
     ["nowhere/bars.csv: file not found"]),
]


@pytest.mark.parametrize(("path", "value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_exact_message(capsys, base_config, write_config, tmp_path, monkeypatch, path, value, expected):
    monkeypatch.chdir(tmp_path)
    f = write_config(_bad(base_config, path, value))
    code, lines = run_cli(capsys, "backtest", "--config", str(f))
    assert code == 2
    assert lines == [e.format(f=f) for e in expected]


def test_several_problems_one_line_each(capsys, base_config, write_config):
    cfg = _bad(_bad(base_config, "execution.fee_bp", 1.0), "risk.max_leverage", 0)
    f = write_config(cfg)
    code, lines = run_cli(capsys, "backtest", "--config", str(f))
    assert code == 2
    assert lines == [
        f"{f}: execution.fee_bp: unknown key (did you mean 'fee_bps'?)",
        f"{f}: risk.max_leverage: Input should be greater than 0 (got 0)",
    ]


def test_invalid_json_names_line_and_column(capsys, write_config):
    f = write_config('{\n  "schema_version": 1,\n  "id": "x"\n  "data": {}\n}\n')
    code, lines = run_cli(capsys, "backtest", "--config", str(f))
    assert code == 2
    assert lines == [f"{f}: line 4 column 3: invalid JSON: Expecting ',' delimiter (near '\"data\": {{}}')"]


def test_nan_literal_rejected(capsys, base_config, write_config):
    text = json.dumps(base_config).replace('"fee_bps": 5.0', '"fee_bps": NaN')
    f = write_config(text)
    code, lines = run_cli(capsys, "backtest", "--config", str(f))
    assert code == 2
    assert lines == [f"{f}: invalid JSON: NaN is not valid JSON (use null)"]


def test_missing_config_file(capsys, tmp_path):
    code, lines = run_cli(capsys, "backtest", "--config", str(tmp_path / "none.json"))
    assert code == 2
    assert lines == [f"{tmp_path / 'none.json'}: file not found"]


def test_extra_strategy_prefix_allows_module(capsys, base_config, write_config):
    cfg = _bad(base_config, "strategy.class_path", "os.path:join")
    f = write_config(cfg)
    code, lines = run_cli(capsys, "backtest", "--config", str(f), "--allow-strategy-prefix", "os")
    assert code == 2
    assert lines == [f"{f}: strategy.class_path: 'os.path:join' is not a trading_framework.Strategy subclass"]
