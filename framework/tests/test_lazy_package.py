"""The package's public names are imported when first used: the numba-free parts import no numba.

Each check runs in a fresh interpreter (an import cannot be undone in this one) and asserts on
``sys.modules`` and on the objects, never on time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trading_framework


def fresh(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line) in a new interpreter; its JSON."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_bars_timeframes_and_the_strategy_api_import_no_numba_and_the_kernels_do() -> None:
    got = fresh("""
import json, sys
seen = {}
import trading_framework
seen["package"] = "numba" in sys.modules
from trading_framework import Bars, MissingFieldError, ParamSpace, Strategy, StrategyParams, validate_bars
from trading_framework import bars_per_year, search_space, timeframe, timeframe_seconds
seen["numba-free names"] = "numba" in sys.modules
from trading_framework import FeatureCache
seen["FeatureCache"] = "numba" in sys.modules
print(json.dumps(seen))
""")
    assert got == {"package": False, "numba-free names": False, "FeatureCache": True}


def test_every_public_name_is_its_modules_object() -> None:
    from trading_framework import backtest, bars, execution, features, metrics, strategy, timeframe

    modules = (backtest, bars, execution, features, metrics, strategy, timeframe)
    for name in trading_framework.__all__:
        value = getattr(trading_framework, name)
        if name != "__version__":
            assert any(getattr(m, name, None) is value for m in modules), name
        assert name in dir(trading_framework)
    assert trading_framework.__version__ == "0.2.0"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        trading_framework.no_such_name  # type: ignore[attr-defined]  # noqa: B018
