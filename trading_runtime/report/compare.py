"""The strategy A/B test: two backtests on the same bars, side by side, with a paired test.

Inputs are two equity curves on the same data (the data files' sha256 must match: same bars).
The curves are aligned on their common bar timestamps; each side's per-bar simple return at bar t
is ``equity[t] / equity[t−1] − 1`` (the first bar against its initial cash), and the paired
differences are ``d[t] = r_A[t] − r_B[t]``.

- **Paired t-test** of mean(d) = 0: ``t = mean(d) / (sd(d) / sqrt(n))`` with ``sd`` at ddof=1,
  ``df = n − 1``, two-sided p from Student's t (regularised incomplete beta; ``report.stats``).
- **Sharpe of the difference**: ``SR_d = mean(d) / sd(d)`` per bar (annualised × sqrt(bars per
  year)); it is the information ratio of A over B.
- **PSR of the difference**: ``P(true SR_d > 0) = Φ(SR_d · sqrt(n − 1) / sqrt(1 − γ3·SR_d + (γ4 − 1)/4 · SR_d²))``
  with γ3, γ4 the skewness and (non-excess) kurtosis of d (Bailey & López de Prado). Unlike the
  t-test it accounts for fat tails and skew of the differences.

Both assume the differences are independent across bars; strategy returns are often
autocorrelated (positions are held for many bars), which makes both tests overconfident. The
verdict line therefore says "no evidence" rather than "equal" when p ≥ 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from trading_runtime.config.backtest import timeframe_bars_per_year
from trading_runtime.errors import InputError
from trading_runtime.execution.outputs import iso_utc
from trading_runtime.report.backtest import provenance_rows
from trading_runtime.report.charts import drawdown_chart, equity_chart
from trading_runtime.report.html import Section, fmt, kv_table, page, table, tiles
from trading_runtime.report.results import EquityCurve
from trading_runtime.report.stats import PairedTest, paired_t_test
from trading_runtime.report.svg import Box, Series, xy_chart
from trading_runtime.sharpe import Moments, moments, probabilistic_sharpe, simple_returns

SIGNIFICANCE = 0.05
TABLE_METRICS = ("final_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "n_trades", "win_rate",
                 "exposure", "turnover", "fees_paid")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a backtest's equity, metrics and identity."""

    label: str  # "A" or "B"
    name: str  # config id
    source: str  # what the user named (config file or results folder)
    curve: EquityCurve
    stats: dict[str, Any]
    data_path: str
    data_sha256: str
    timeframe: str
    strategy: str
    params: dict[str, Any]
    config_sha256: str | None = None
    provenance: dict[str, Any] | None = None
    bars_per_year: float | None = None  # data.bars_per_year (None: the timeframe's calendar rule)


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    ts: npt.NDArray[np.int64]
    returns_a: npt.NDArray[np.float64]
    returns_b: npt.NDArray[np.float64]
    test: PairedTest
    diff: Moments
    psr_difference: float | None
    bars_per_year: float

    @property
    def sharpe_difference(self) -> float | None:
        sr = self.diff.sharpe
        return None if sr is None else sr * math.sqrt(self.bars_per_year)

    @property
    def correlation(self) -> float | None:
        if len(self.returns_a) < 2 or np.std(self.returns_a) == 0 or np.std(self.returns_b) == 0:
            return None
        return float(np.corrcoef(self.returns_a, self.returns_b)[0, 1])

    @property
    def better(self) -> str | None:
        """"A" or "B" when that side earns more per bar at the significance level; None otherwise."""
        p = self.test.p_two_sided
        if p is None or p >= SIGNIFICANCE:
            return None
        return "A" if (self.test.mean_difference or 0.0) > 0 else "B"

    @property
    def verdict(self) -> str:
        p = self.test.p_two_sided
        if p is None:
            return "undefined: the two return series do not differ (or too few bars)"
        if self.better is not None:
            return f"{self.better} earns more per bar (p {p:.4g} < {SIGNIFICANCE})"
        return f"no evidence of a difference at {SIGNIFICANCE:.0%} (p {p:.4g})"


def compare_sides(a: Side, b: Side) -> Comparison:
    """Align on common bars and test; InputError (exit 2) when the data differ."""
    if a.data_sha256 != b.data_sha256:
        raise InputError(f"compare: A and B use different data: A {a.data_path} (sha256 {a.data_sha256[:12]}), "
                         f"B {b.data_path} (sha256 {b.data_sha256[:12]}); both must run on the same bars")
    if a.timeframe != b.timeframe:
        raise InputError(f"compare: A and B annualise differently: timeframe {a.timeframe!r} vs {b.timeframe!r}")
    if a.bars_per_year != b.bars_per_year:
        shown = ["not set" if x is None else f"{x:g}" for x in (a.bars_per_year, b.bars_per_year)]
        raise InputError(f"compare: A and B annualise differently: data.bars_per_year {shown[0]} vs {shown[1]}")
    ts, ia, ib = np.intersect1d(a.curve.ts, b.curve.ts, assume_unique=True, return_indices=True)
    if len(ts) < 3:
        raise InputError(f"compare: A and B share {len(ts)} bars; at least 3 are needed")
    ra = simple_returns(a.curve.equity, a.curve.initial)[ia]
    rb = simple_returns(b.curve.equity, b.curve.initial)[ib]
    d = ra - rb
    m = moments(d, powers="power")  # compare.json's bits since it was written (sharpe.py, rounding forms)
    psr = probabilistic_sharpe(m.sharpe, m.n, m.skew, m.kurtosis, powers="power")
    return Comparison(a, b, ts, ra, rb, paired_t_test(ra, rb), m, psr,
                      timeframe_bars_per_year(a.timeframe, a.bars_per_year))


def comparison_document(c: Comparison) -> dict[str, Any]:
    """compare.json: both sides' metrics and identity, and the test results (canonical JSON)."""
    def side(s: Side) -> dict[str, Any]:
        return {"name": s.name, "source": s.source, "strategy": s.strategy, "params": s.params,
                "config_sha256": s.config_sha256, "metrics": s.stats}

    t = c.test
    return {
        "a": side(c.a), "b": side(c.b),
        "data": {"path": c.a.data_path, "sha256": c.a.data_sha256, "timeframe": c.a.timeframe,
                 "common_bars": len(c.ts), "first_ts": int(c.ts[0]), "last_ts": int(c.ts[-1])},
        "paired_t_test": {"n": t.n, "mean_difference": t.mean_difference, "std_difference": t.std_difference,
                          "t": t.t, "df": t.df, "p_two_sided": t.p_two_sided},
        "difference": {"sharpe_per_bar": c.diff.sharpe, "sharpe_annualised": c.sharpe_difference,
                       "skew": c.diff.skew, "kurtosis": c.diff.kurtosis, "psr": c.psr_difference},
        "correlation": c.correlation,
        "verdict": c.verdict,
    }


def _delta(metric: str, a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or a is None or b is None:
        return "–"
    d = a - b
    if metric in ("total_return", "cagr", "max_drawdown", "win_rate", "exposure"):
        return f"{d * 100:+.2f} pp"
    return f"{d:+,.2f}" if metric in ("final_equity", "fees_paid") else f"{d:+.4g}"


def comparison_table(c: Comparison) -> str:
    """The plain-text table printed on stdout."""
    t = c.test
    lines = [
        f"compare: A = {c.a.name} ({c.a.source}), B = {c.b.name} ({c.b.source})",
        f"data: {c.a.data_path} (sha256 {c.a.data_sha256[:12]}), {len(c.ts):,} common bars of {c.a.timeframe}, "
        f"{iso_utc(int(c.ts[0]))} → {iso_utc(int(c.ts[-1]))}",
        "",
        f"{'metric':<16}{'A':>16}{'B':>16}{'A − B':>16}",
    ]
    for m in TABLE_METRICS:
        va, vb = c.a.stats.get(m), c.b.stats.get(m)
        lines.append(f"{m:<16}{fmt(va, m):>16}{fmt(vb, m):>16}{_delta(m, va, vb):>16}")
    lines += [
        "",
        f"paired t-test of per-bar returns (A − B): n {t.n:,}, mean {fmt(t.mean_difference)}/bar, "
        f"t {fmt(t.t)}, df {t.df:,}, p {fmt(t.p_two_sided)} (two-sided)",
        f"Sharpe of the difference: {fmt(c.diff.sharpe)}/bar ({fmt(c.sharpe_difference)} annualised), "
        f"skew {fmt(c.diff.skew)}, kurtosis {fmt(c.diff.kurtosis)}; "
        f"PSR P(SR(A − B) > 0) = {fmt(c.psr_difference)}",
        f"correlation of per-bar returns: {fmt(c.correlation)}",
        f"verdict: {c.verdict}",
    ]
    return "\n".join(lines) + "\n"


def render_comparison(c: Comparison) -> str:
    """compare.html: summary, equity and drawdown of both, the cumulative difference, the test, provenance."""
    t = c.test
    items: list[tuple[str, Any, str]] = [
        ("A total return", c.a.stats.get("total_return"), "total_return"),
        ("B total return", c.b.stats.get("total_return"), "total_return"),
        ("paired t", t.t, "t"),
        ("p (two-sided)", t.p_two_sided, ""),
        ("PSR of A − B", c.psr_difference, ""),
    ]
    rows = [[m, fmt(c.a.stats.get(m), m), fmt(c.b.stats.get(m), m), _delta(m, c.a.stats.get(m), c.b.stats.get(m))]
            for m in TABLE_METRICS]
    facts = [("A", f"{c.a.name} · {c.a.strategy} · {_params(c.a.params)}"),
             ("B", f"{c.b.name} · {c.b.strategy} · {_params(c.b.params)}"),
             ("data", f"{c.a.data_path} · {len(c.ts):,} common bars of {c.a.timeframe}"),
             ("period", f"{iso_utc(int(c.ts[0]))} → {iso_utc(int(c.ts[-1]))}"),
             ("verdict", c.verdict)]
    summary = (tiles(items) + kv_table(facts, "compare-facts")
               + table(("metric", "A", "B", "A − B"), rows, numeric=(False, True, True, True),
                       table_id="compare-table"))
    a_name, b_name = f"A {c.a.name}", f"B {c.b.name}"
    charts = [equity_chart([(a_name, c.a.curve), (b_name, c.b.curve)], title="Equity of A and B"),
              drawdown_chart(a_name, c.a.curve, title=f"Drawdown of A ({c.a.name})"),
              drawdown_chart(b_name, c.b.curve, title=f"Drawdown of B ({c.b.name})")]
    secs = np.asarray(c.ts // 1_000_000_000, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # a total loss is log 0: off the chart from there
        cum = np.cumsum(np.log1p(c.returns_a) - np.log1p(c.returns_b))
    diff_chart = xy_chart([Series("log(A/B)", secs, cum, color="#9467bd", mode="area")],
                          title="Cumulative log return of A over B (above zero: A ahead)", x_time=True,
                          y_label="log(A / B)", zero_line=True, box=Box(height=240), legend=False)
    test_rows = [
        ("bars (n)", f"{t.n:,}"), ("mean difference per bar", fmt(t.mean_difference)),
        ("sd of the difference", fmt(t.std_difference)), ("t", fmt(t.t)), ("degrees of freedom", f"{t.df:,}"),
        ("p (two-sided, Student's t)", fmt(t.p_two_sided)),
        ("Sharpe of A − B per bar (annualised)", f"{fmt(c.diff.sharpe)} ({fmt(c.sharpe_difference)})"),
        ("skew / kurtosis of A − B", f"{fmt(c.diff.skew)} / {fmt(c.diff.kurtosis)}"),
        ("PSR: P(true Sharpe of A − B > 0)", fmt(c.psr_difference)),
        ("correlation of A and B returns", fmt(c.correlation)),
    ]
    note = ('<p class="note">Paired t-test of the per-bar return differences and the probabilistic Sharpe of the '
            "difference series (which allows for its skew and fat tails). Both treat bars as independent; held "
            "positions make returns autocorrelated, so treat small p-values with care.</p>")
    prov = []
    for s in (c.a, c.b):
        prov.append(f"<h3>{s.label}: {s.name}</h3>")
        rows_p = [("source", s.source), ("config sha256", s.config_sha256 or "–"), ("data sha256", s.data_sha256),
                  *provenance_rows(s.provenance)]
        prov.append(kv_table(rows_p))
    sections = [
        Section("summary", "Summary", summary),
        Section("equity", "Equity and drawdown", f'<div class="charts">{"".join(charts)}</div>'),
        Section("difference", "Difference", diff_chart),
        Section("test", "Paired test", kv_table(test_rows, "test-table") + note),
        Section("provenance", "Provenance", "".join(prov)),
    ]
    return page(f"Compare {c.a.name} vs {c.b.name}", f"{c.a.data_path} · {c.a.timeframe}", sections)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "defaults"


UNIVERSE_NOTE = ("Each instrument is its own A/B test (its compare.html in the instrument's folder). With many "
                 f"instruments some p-values fall below {SIGNIFICANCE} by chance alone (about {SIGNIFICANCE:.0%} of "
                 "them when A and B do not differ): read the count of wins with that in mind, and the aggregate of "
                 "the metric differences (mean, median, min, max over the instruments; share where A − B > 0).")


def universe_verdict(doc: dict[str, Any]) -> str:
    """One line: on how many instruments each side earns more per bar at the significance level."""
    v = doc["aggregate"]["verdicts"]
    n = len(doc["instruments"])
    return (f"A earns more per bar on {v['A']} of {n} instruments, B on {v['B']} (p < {SIGNIFICANCE} each); "
            f"no evidence of a difference on {v['none']}")


def _shown(metric: str) -> str:
    """How a difference of ``metric`` over instruments is formatted: a mean of counts has decimals."""
    return "" if metric == "n_trades" else metric


def universe_comparison_table(doc: dict[str, Any]) -> str:
    """The plain-text table of a universe comparison (compare.json of two universe backtests)."""
    a, b = doc["a"], doc["b"]
    lines = [f"compare: A = {a['name']} ({a['source']}), B = {b['name']} ({b['source']}): a universe of "
             f"{len(doc['instruments'])} instruments (universe sha256 {a['universe_sha256'][:12]})", "",
             f"{'instrument':<16}{'return A':>12}{'return B':>12}{'Sharpe A':>12}{'Sharpe B':>12}{'p':>12}  better"]
    for row in doc["instruments"]:
        m = row["metrics"]
        lines.append(f"{row['symbol']:<16}{fmt(m['total_return']['a'], 'total_return'):>12}"
                     f"{fmt(m['total_return']['b'], 'total_return'):>12}{fmt(m['sharpe']['a']):>12}"
                     f"{fmt(m['sharpe']['b']):>12}{fmt(row['p_two_sided']):>12}  {row['better'] or '–'}")
    lines += ["", f"{'A − B over instruments':<24}{'mean':>15}{'median':>15}{'min':>15}{'max':>15}{'share > 0':>12}"]
    for metric, agg in doc["aggregate"]["metrics"].items():
        cells = [f"{fmt(agg[k], _shown(metric)):>15}" for k in ("mean", "median", "min", "max")]
        lines.append(f"{metric:<24}" + "".join(cells) + f"{fmt(agg['share_positive']):>12}")
    lines += ["", f"verdict: {universe_verdict(doc)}"]
    return "\n".join(lines) + "\n"


def render_universe_comparison(doc: dict[str, Any]) -> str:
    """compare.html of two universe backtests: per instrument and in aggregate."""
    a, b = doc["a"], doc["b"]
    v = doc["aggregate"]["verdicts"]
    items: list[tuple[str, Any, str]] = [("instruments", len(doc["instruments"]), "n_trades"),
                                         ("A better", v["A"], "n_trades"), ("B better", v["B"], "n_trades"),
                                         ("no evidence", v["none"], "n_trades")]
    facts = [("A", f"{a['name']} · {a['source']}"), ("B", f"{b['name']} · {b['source']}"),
             ("universe sha256", a["universe_sha256"]), ("verdict", universe_verdict(doc))]
    rows = [[r["symbol"], fmt(r["metrics"]["total_return"]["a"], "total_return"),
             fmt(r["metrics"]["total_return"]["b"], "total_return"), fmt(r["metrics"]["sharpe"]["a"]),
             fmt(r["metrics"]["sharpe"]["b"]), fmt(r["p_two_sided"]), fmt(r["psr"]), r["better"] or "–",
             f"{r['results']}compare.html"] for r in doc["instruments"]]
    per_instrument = table(("instrument", "return A", "return B", "Sharpe A", "Sharpe B", "p (two-sided)",
                            "PSR of A − B", "better", "report"), rows,
                           numeric=(False, True, True, True, True, True, True, False, False),
                           table_id="universe-compare-table")
    agg_rows = [[m, fmt(agg["n"]), *(fmt(agg[k], _shown(m)) for k in ("mean", "median", "min", "max")),
                 fmt(agg["share_positive"])] for m, agg in doc["aggregate"]["metrics"].items()]
    aggregate = table(("A − B", "n", "mean", "median", "min", "max", "share > 0"), agg_rows,
                      numeric=(False, True, True, True, True, True, True), table_id="universe-compare-aggregate")
    sections = [
        Section("summary", "Summary", tiles(items) + kv_table(facts, "compare-facts")),
        Section("instruments", "Per instrument", per_instrument),
        Section("aggregate", "Aggregate over the instruments", aggregate + f'<p class="note">{UNIVERSE_NOTE}</p>'),
    ]
    return page(f"Compare {a['name']} vs {b['name']}", f"a universe of {len(doc['instruments'])} instruments",
                sections)
