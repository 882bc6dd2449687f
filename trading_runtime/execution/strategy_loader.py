"""Strategy class paths (``module:Class``) → classes, only from allowed module prefixes."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from trading_framework import Bars, MissingFieldError, Strategy, StrategyParams
from trading_framework.bars import FloatArray
from trading_runtime.config.loading import render_validation_error
from trading_runtime.errors import InputError

if TYPE_CHECKING:  # an annotation only: loading a strategy class does not import numba before its module does
    from trading_framework import FeatureCache

DEFAULT_ALLOWED_PREFIXES: tuple[str, ...] = ("trading_runtime.strategies",)


def _allowed(module: str, prefixes: Sequence[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def load_strategy_class(
    class_path: str, source: str, allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES
) -> type[Strategy]:
    """Import ``module:Class``; errors name the config file and ``strategy.class_path``."""
    where = f"{source}: strategy.class_path"
    module_name, _, class_name = class_path.partition(":")
    if not _allowed(module_name, allowed_prefixes):
        allowed = ", ".join(allowed_prefixes)
        raise InputError(f"{where}: module '{module_name}' is not allowed (allowed prefixes: {allowed})")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise InputError(f"{where}: no module named '{e.name}' (got \"{class_path}\")") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InputError(f"{where}: module '{module_name}' has no class '{class_name}' (got \"{class_path}\")")
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InputError(f"{where}: '{class_path}' is not a trading_framework.Strategy subclass")
    if inspect.isabstract(cls) or not isinstance(getattr(cls, "Params", None), type):
        missing = sorted(getattr(cls, "__abstractmethods__", ())) or ["Params"]
        raise InputError(f"{where}: '{class_path}' is abstract (it does not define {', '.join(missing)}); expected "
                         "a concrete Strategy subclass such as trading_runtime.strategies.sma_cross:SmaCross")
    return cls


def build_params(cls: type[Strategy], params: dict[str, Any], source: str) -> StrategyParams:
    """Validate ``params`` with the strategy's Params model (bounds and cross-field rules)."""
    try:
        return cls.Params.model_validate(params)
    except ValidationError as e:
        raise InputError(*render_validation_error(e, source, cls.Params, prefix="strategy.params")) from None


def strategy_target(strategy: Strategy, bars: Bars, features: FeatureCache) -> FloatArray:
    """The strategy's targets on ``bars``. A field the bars lack (``MissingFieldError``: the volume of a
    file without one) is bad input, one line naming the strategy, wherever it runs: a backtest, a shard,
    the kernels' warm-up before a local pool."""
    try:
        return strategy.target(bars, features)
    except MissingFieldError as e:
        cls = type(strategy)
        raise InputError(f"strategy {cls.__module__}:{cls.__qualname__}: {e}") from None
