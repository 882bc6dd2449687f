"""The A/B test of two strategies on the same data: each side from a backtest config (run here) or a
backtest's results folder, compared, written as compare.json and compare.html (``report.compare``).

Two universe backtests (results folders with ``universe.json``) are compared per instrument and in
aggregate: ``<output>/<symbol>/`` holds what comparing ``A/<symbol>`` with ``B/<symbol>`` writes, and
``<output>/compare.json`` (``kind`` ``universe_compare``) each instrument's test and headline metrics,
the count of instruments where A or B earns more per bar, and per headline metric the mean, median,
min, max and share positive of A − B over the instruments. Both sides must hold the same symbols."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trading_runtime.config import BacktestConfig, config_sha256, load_model
from trading_runtime.errors import InputError
from trading_runtime.execution.backtest import run_backtest_config
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.orchestration.universe import HEADLINE_METRICS, UNIVERSE_FILE, aggregate
from trading_runtime.report import BacktestResults, EquityCurve, load_results
from trading_runtime.report.compare import (
    Comparison,
    Side,
    compare_sides,
    comparison_document,
    render_comparison,
    render_universe_comparison,
)
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def side(label: str, source: str, cwd: Path, prefixes: tuple[str, ...], provenance: Mapping[str, Any]) -> Side:
    """One side: a config file is run (``provenance`` is this process's), a results folder is read."""
    path = Path(source)
    if path.is_file():
        config = load_model(BacktestConfig, path, source)
        if config.data.is_universe:
            raise InputError(f"{source}: data: a universe of instruments: backtest it, then compare the two "
                             "results folders (per instrument and in aggregate)")
        log.info("compare: running %s = %s", label, config.id)
        run = run_backtest_config(config, source, cwd, prefixes)
        sim = run.result.simulation
        curve = EquityCurve(run.data.bars.ts[sim.start:].astype("int64"), sim.equity.astype("float64"),
                            config.execution.initial_cash)
        return Side(label, config.id, source, curve, run.metrics, config.data.path, run.data.sha256,
                    run.data_ref().timeframe, config.strategy.class_path, run.result_params(), config_sha256(config),
                    dict(provenance), config.data.bars_per_year)
    results = load_results(source, cwd)
    if not isinstance(results, BacktestResults):
        raise InputError(f"{source}: an experiment's results; compare takes backtest configs or backtest results "
                         f"folders (with equity.parquet)")
    man = results.manifest
    return Side(label, results.label, source, results.curve, results.stats, man.data.path, man.data.sha256,
                man.data.timeframe, man.strategy.class_path, dict(man.strategy.params), man.config_sha256,
                man.provenance, man.data.bars_per_year)


def universe_of(source: str, cwd: Path) -> dict[str, Any] | None:
    """The universe.json of a universe backtest's results folder; None for anything else."""
    if Path(source).is_file():
        return None
    store = open_store(source, cwd)
    if not store.exists(UNIVERSE_FILE):
        return None
    doc = json.loads(store.get_bytes(UNIVERSE_FILE))
    if not isinstance(doc, dict) or doc.get("kind") != "universe_backtest":
        raise InputError(f"{source}/{UNIVERSE_FILE}: expected a universe backtest's universe.json")
    return doc


def _check_instruments(ua: dict[str, Any], ub: dict[str, Any]) -> list[str]:
    """The symbols both universes hold; InputError naming those only one side has."""
    sa, sb = ([row["symbol"] for row in u["instruments"]] for u in (ua, ub))
    only_a, only_b = sorted(set(sa) - set(sb)), sorted(set(sb) - set(sa))
    if only_a or only_b:
        raise InputError(f"compare: A and B hold different instruments: only in A: {', '.join(only_a) or 'none'}; "
                         f"only in B: {', '.join(only_b) or 'none'} (both must be backtests of one universe)")
    return sorted(sa)


def universe_document(a: str, b: str, ua: dict[str, Any], ub: dict[str, Any],
                      comparisons: dict[str, Comparison]) -> dict[str, Any]:
    """compare.json of two universe backtests (see the module docstring)."""
    rows = []
    for symbol, c in comparisons.items():
        metrics = {m: {"a": c.a.stats.get(m), "b": c.b.stats.get(m), "difference": _difference(c, m)}
                   for m in HEADLINE_METRICS}
        rows.append({"symbol": symbol, "results": f"{symbol}/", "common_bars": len(c.ts),
                     "mean_difference": c.test.mean_difference, "p_two_sided": c.test.p_two_sided,
                     "sharpe_difference_annualised": c.sharpe_difference, "psr": c.psr_difference,
                     "better": c.better, "verdict": c.verdict, "metrics": metrics})
    better: list[str | None] = [c.better for c in comparisons.values()]
    return {
        "schema_version": 1,
        "kind": "universe_compare",
        "a": {"name": ua["config_id"], "source": a, "config_sha256": ua["config_sha256"],
              "universe_sha256": ua["universe_sha256"]},
        "b": {"name": ub["config_id"], "source": b, "config_sha256": ub["config_sha256"],
              "universe_sha256": ub["universe_sha256"]},
        "instruments": rows,
        "aggregate": {
            "verdicts": {"A": better.count("A"), "B": better.count("B"), "none": better.count(None)},
            "metrics": {m: aggregate([_difference(c, m) for c in comparisons.values()]) for m in HEADLINE_METRICS},
        },
    }


def _difference(c: Comparison, metric: str) -> float | None:
    va, vb = c.a.stats.get(metric), c.b.stats.get(metric)
    if isinstance(va, bool) or isinstance(vb, bool) or va is None or vb is None:
        return None
    return float(va) - float(vb)


def compare_universes(a: str, b: str, ua: dict[str, Any], ub: dict[str, Any], output_dir: Path, cwd: Path,
                      prefixes: tuple[str, ...], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Compare two universe backtests per instrument and in aggregate; written only when every one is valid."""
    comparisons: dict[str, Comparison] = {}
    for symbol in _check_instruments(ua, ub):
        sides = [side(label, f"{source.rstrip('/')}/{symbol}", cwd, prefixes, provenance)
                 for label, source in (("A", a), ("B", b))]
        try:
            comparisons[symbol] = compare_sides(*sides)
        except InputError as e:
            raise InputError(*(f"{line} (instrument {symbol})" for line in e.lines)) from None
    doc = universe_document(a, b, ua, ub, comparisons)
    for symbol, comparison in comparisons.items():
        write_comparison(comparison, output_dir / symbol)
    (output_dir / "compare.json").write_bytes(canonical_bytes(doc))
    (output_dir / "compare.html").write_bytes(render_universe_comparison(doc).encode("utf-8"))
    return doc


def write_comparison(comparison: Comparison, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "compare.json").write_bytes(canonical_bytes(comparison_document(comparison)))
    (output_dir / "compare.html").write_bytes(render_comparison(comparison).encode("utf-8"))


def compare(a: str, b: str, output_dir: Path, cwd: Path, prefixes: tuple[str, ...],
            provenance: Mapping[str, Any]) -> Comparison | dict[str, Any]:
    """Compare A and B; write compare.json and compare.html into ``output_dir`` (only when both are valid).
    Two universe backtests: the universe comparison's document (see the module docstring)."""
    for source in (a, b):
        if not Path(source).exists() and "://" not in source:
            raise InputError(f"{source}: not found (expected a backtest config file or a results folder)")
    ua, ub = universe_of(a, cwd), universe_of(b, cwd)
    if ua is not None and ub is not None:
        return compare_universes(a, b, ua, ub, output_dir, cwd, prefixes, provenance)
    if ua is not None or ub is not None:
        label, source, u = ("A", a, ua) if ua is not None else ("B", b, ub)
        assert u is not None
        raise InputError(f"compare: {label} ({source}) is a universe backtest of {len(u['instruments'])} instruments "
                         "and the other side one backtest: compare two universe results folders, or one "
                         f"instrument's folder ({source}/<symbol>) with the other")
    comparison = compare_sides(side("A", a, cwd, prefixes, provenance), side("B", b, cwd, prefixes, provenance))
    write_comparison(comparison, output_dir)
    return comparison
