"""The search space: the config's ``sweep.space`` or the strategy's declared bounds → Optuna distributions.

Names are always sorted, so the order in which a sampler sees parameters never depends on the
order of keys in a file. Stepped floats are reported on their grid in decimal (``0.7``, not
Optuna's ``0.7000000000000001``): :func:`trial_params` is the one place that turns a trial's raw
values into the parameters a backtest gets and every result shows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from pydantic import TypeAdapter

from trading_runtime.config.experiment import CategoricalParam, FloatParam, IntParam, OptunaSweep, SearchParam
from trading_runtime.errors import InputError

__all__ = ["MAX_CORNERS", "distributions", "resolve_space", "space_corners", "trial_params"]

# More corners than this and warm-up "auto" asks for an explicit warmup_bars.
MAX_CORNERS = 4096

Space = dict[str, IntParam | FloatParam | CategoricalParam]
_PARAM = TypeAdapter(SearchParam)


def _declared_param(name: str, decl: Mapping[str, Any], strategy: str,
                    source: str) -> IntParam | FloatParam | CategoricalParam:
    kind = decl["type"]
    if kind in ("bool", "categorical"):
        return CategoricalParam(type="categorical", choices=list(decl["choices"]))
    low, high = decl.get("low"), decl.get("high")
    if low is None or high is None:
        missing = "low" if low is None else "high"
        raise InputError(f"{source}: sweep.space: null, but {strategy} declares no {missing} bound for '{name}' "
                         "(give sweep.space, or fix the parameter in strategy.params)")
    if kind == "int":
        return IntParam(type="int", low=int(low), high=int(high))
    return FloatParam(type="float", low=float(low), high=float(high))


def _check_grid(name: str, p: IntParam | FloatParam, source: str) -> None:
    if p.type == "int":
        if (p.high - p.low) % p.step:
            raise InputError(f"{source}: sweep.space.{name}: high - low ({p.high - p.low}) must be a multiple of "
                             f"step ({p.step})")
        return
    assert isinstance(p, FloatParam)
    if p.step is not None:
        span = Decimal(str(p.high)) - Decimal(str(p.low))
        if span % Decimal(str(p.step)):
            raise InputError(f"{source}: sweep.space.{name}: high - low ({span}) must be a multiple of "
                             f"step ({p.step})")


def resolve_space(sweep: OptunaSweep, fixed: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]],
                  strategy: str, source: str) -> Space:
    """The space searched, sorted by name.

    ``declared`` is the strategy's declared space (``trading_framework.search_space`` as plain
    dicts: type, low, high, choices). With ``sweep.space`` null every declared parameter not
    fixed in ``strategy.params`` is searched within its declared bounds; a given space must name
    declared parameters and stay within their bounds.
    """
    if sweep.space is None:
        names = [n for n in sorted(declared) if n not in fixed]
        if not names:
            raise InputError(f"{source}: sweep.space: null, but every parameter of {strategy} is fixed in "
                             "strategy.params: nothing to search")
        return {n: _declared_param(n, declared[n], strategy, source) for n in names}
    space: Space = {}
    for name in sorted(sweep.space):
        p = sweep.space[name]
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InputError(f"{source}: sweep.space.{name}: {strategy} has no parameter '{name}' "
                             f"(its parameters: {known})")
        decl = declared[name]
        if isinstance(p, IntParam | FloatParam):
            _check_grid(name, p, source)
            if decl["type"] not in ("int", "float") or (decl["type"] == "int" and isinstance(p, FloatParam)):
                raise InputError(f"{source}: sweep.space.{name}.type: {strategy}.{name} is {decl['type']} "
                                 f"(got \"{p.type}\")")
            lo, hi = decl.get("low"), decl.get("high")
            if lo is not None and p.low < lo:
                raise InputError(f"{source}: sweep.space.{name}.low: below the strategy's bound {_num(lo)} "
                                 f"(got {p.low})")
            if hi is not None and p.high > hi:
                raise InputError(f"{source}: sweep.space.{name}.high: above the strategy's bound {_num(hi)} "
                                 f"(got {p.high})")
        space[name] = p
    return space


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def distributions(space: Space) -> dict[str, BaseDistribution]:
    """Optuna distributions, by sorted name."""
    out: dict[str, BaseDistribution] = {}
    for name in sorted(space):
        p = space[name]
        if isinstance(p, IntParam):
            out[name] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, FloatParam):
            out[name] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
        else:
            out[name] = CategoricalDistribution(list(p.choices))
    return out


def _on_grid(p: FloatParam, value: float) -> float:
    """A stepped float snapped to ``low + k·step`` in decimal, then back to the nearest float."""
    assert p.step is not None
    low, step = Decimal(str(p.low)), Decimal(str(p.step))
    k = ((Decimal(repr(float(value))) - low) / step).to_integral_value()
    return float(low + k * step)


def trial_params(space: Space, raw: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy parameters of a trial: ``strategy.params`` overridden by the sampled values."""
    out = dict(fixed)
    for name in sorted(space):
        p = space[name]
        v = raw[name]
        if isinstance(p, IntParam):
            out[name] = int(v)
        elif isinstance(p, FloatParam):
            out[name] = _on_grid(p, v) if p.step is not None else float(v)
        else:
            out[name] = v
    return out


def space_corners(space: Space) -> list[dict[str, Any]] | None:
    """Every combination of each numeric parameter at its low or high and every categorical choice.

    None when there are more than :data:`MAX_CORNERS`. Used by ``warmup_bars: "auto"``: a
    strategy's warm-up grows with its window parameters, so the largest warm-up of the space is
    found at one of its corners.
    """
    axes: list[list[Any]] = []
    for name in sorted(space):
        p = space[name]
        if isinstance(p, CategoricalParam):
            axes.append(list(p.choices))
        else:
            axes.append(sorted({p.low, p.high}))
    n = 1
    for a in axes:
        n *= len(a)
    if n > MAX_CORNERS:
        return None
    names = sorted(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]


def space_document(space: Space) -> dict[str, Any]:
    """The resolved space as JSON (what results and the study manifest record)."""
    return {name: space[name].model_dump(mode="json") for name in sorted(space)}


def space_from_document(doc: Mapping[str, Any]) -> Space:
    return {name: _PARAM.validate_python(doc[name]) for name in sorted(doc)}


CheckParams = Callable[[dict[str, Any]], str | None]
