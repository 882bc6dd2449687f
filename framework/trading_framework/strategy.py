"""The strategy API: parameters as a frozen pydantic model, a target exposure per bar."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import annotated_types
import numpy as np
from pydantic import BaseModel, ConfigDict

from trading_framework.bars import Bars, FloatArray

if TYPE_CHECKING:  # only an annotation here: importing the strategy API does not import numba (features does)
    from trading_framework.features import FeatureCache


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: unknown fields rejected, immutable, strict types.

    Declare each parameter with bounds (``Field(ge=..., le=...)``) and cross-field rules in one
    ``model_validator(mode="after")``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Strategy(ABC):
    """A strategy maps bars to a target exposure per bar, decided on that bar's close.

    Targets are fractions of equity: 1.0 all-in long, -1.0 all-in short, 0.0 flat; NaN counts as 0.
    """

    Params: ClassVar[type[StrategyParams]]

    def __init__(self, params: StrategyParams) -> None:
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} takes {self.Params.__name__}, got {type(params).__name__}")
        self.params = params

    @abstractmethod
    def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
        """Target exposure for every bar (same length as ``bars``)."""

    def warmup_bars(self) -> int:
        """Bars needed before the signal is defined (targets are flat before)."""
        return 0


@dataclass(frozen=True)
class ParamSpace:
    """The declared range of one strategy parameter, read from its field bounds."""

    name: str
    type: Literal["int", "float", "bool", "categorical"]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None


def search_space(params_model: type[StrategyParams]) -> dict[str, ParamSpace]:
    """Each parameter's type and inclusive bounds, from ``Field(ge/gt/le/lt)`` and Literal choices."""
    space: dict[str, ParamSpace] = {}
    for name, field in sorted(params_model.model_fields.items()):
        ann = field.annotation
        low: float | None = None
        high: float | None = None
        for meta in field.metadata:
            if isinstance(meta, annotated_types.Ge):
                low = float(meta.ge)  # type: ignore[arg-type]
            elif isinstance(meta, annotated_types.Gt):
                low = float(meta.gt)  # type: ignore[arg-type]
                if ann is int:
                    low += 1
            elif isinstance(meta, annotated_types.Le):
                high = float(meta.le)  # type: ignore[arg-type]
            elif isinstance(meta, annotated_types.Lt):
                high = float(meta.lt)  # type: ignore[arg-type]
                if ann is int:
                    high -= 1
        if ann is bool:
            space[name] = ParamSpace(name, "bool", choices=(False, True))
        elif ann is int:
            space[name] = ParamSpace(name, "int", low, high)
        elif ann is float:
            space[name] = ParamSpace(name, "float", low, high)
        elif getattr(ann, "__origin__", None) is Literal:
            space[name] = ParamSpace(name, "categorical", choices=tuple(ann.__args__))  # type: ignore[union-attr]
        else:
            raise TypeError(f"{params_model.__name__}.{name}: unsupported parameter type {ann!r}")
    return space


def flat_until(values: FloatArray, warmup: int) -> FloatArray:
    """``values`` with the first ``warmup`` entries set to 0 (flat during warm-up)."""
    out = np.array(values, dtype=np.float64, copy=True)
    out[: max(0, warmup)] = 0.0
    return out
