"""The report of a single backtest: headline metrics, provenance, equity and drawdown, significance, trades."""

from __future__ import annotations

from typing import Any

from trading_runtime.execution.outputs import iso_utc
from trading_runtime.fanin.documents import SummaryData
from trading_runtime.planning import DataRef, describe_dropped
from trading_runtime.report.charts import drawdown_chart, equity_chart
from trading_runtime.report.html import Raw, Section, esc, fmt, kv_table, page, table, tiles
from trading_runtime.report.results import BacktestResults
from trading_runtime.report.selection import selection_stats
from trading_runtime.report.svg import Box, Series, xy_chart

TRADES_SHOWN = 40
HEADLINE = (("final equity", "final_equity"), ("total return", "total_return"), ("sharpe", "sharpe"),
            ("max drawdown", "max_drawdown"), ("trades", "n_trades"), ("win rate", "win_rate"))


def provenance_rows(prov: dict[str, Any] | None) -> list[tuple[str, Any]]:
    if not prov:
        return [("provenance", "not recorded with these results")]
    rows: list[tuple[str, Any]] = []
    for part in ("runtime", "framework"):
        p = prov.get(part) or {}
        commit = p.get("commit") or "unknown"
        dirty = " (uncommitted changes)" if p.get("dirty") else ""
        rows.append((f"{p.get('name', part)}", f"{p.get('version')} · commit {commit}{dirty} · {p.get('source')}"))
    env = prov.get("environment") or {}
    if env:
        rows.append(("python", f"{env.get('implementation', '')} {env.get('python', '')}".strip()))
        pkgs = env.get("packages") or {}
        rows.append(("packages", ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items()))))
    return rows


def data_fact(location: str, data: DataRef | SummaryData) -> str:
    """A report's "data" fact: where from, how many bars of what, and the rows dropped (data.on_invalid)."""
    text = f"{location} · {fmt(data.n_bars, 'n_bars')} bars of {data.timeframe}"
    return f"{text} · {describe_dropped(data.dropped)}" if data.dropped else text


def _summary(res: BacktestResults) -> Section:
    m, man = res.stats, res.manifest
    data = man.data
    strat = man.strategy
    facts = [
        ("config", f"{man.config_id} (sha256 {man.config_sha256[:12]})"),
        ("strategy", strat.class_path),
        ("parameters", ", ".join(f"{k}={v}" for k, v in sorted(strat.params.items()))),
        ("data", data_fact(data.path, data)),
        ("period", f"{iso_utc(data.first_ts)} → {iso_utc(data.last_ts)}"),
        ("initial cash", fmt(res.curve.initial, "initial_cash")),
        ("seed", man.seed),
    ]
    body = tiles((label, m.get(key), key) for label, key in HEADLINE) + kv_table(facts, "summary-facts")
    return Section("summary", "Summary", body)


def _provenance(res: BacktestResults) -> Section:
    man = res.manifest
    rows = provenance_rows(man.provenance)
    rows.append(("data sha256", man.data.sha256))
    rows.append(("config sha256", man.config_sha256))
    for name, digest in sorted(man.files.items()):
        rows.append((f"{name} sha256", digest))
    return Section("provenance", "Provenance", kv_table(rows, "provenance-table"))


def _equity(res: BacktestResults) -> Section:
    c = res.curve
    charts = [equity_chart([(res.label, c)], title="Equity"),
              drawdown_chart(res.label, c, title="Drawdown from the running peak"),
              xy_chart([Series("position", c.seconds, res.position, color="#2ca02c", mode="step")],
                       title="Position (units held at each close)", x_time=True, box=Box(height=170), legend=False,
                       zero_line=True)]
    return Section("equity", "Equity and drawdown", f'<div class="charts">{"".join(charts)}</div>')


def _significance(res: BacktestResults) -> Section:
    bpy = res.manifest.data.annualisation
    s = selection_stats("full", res.label, {}, res.curve.equity, res.curve.initial, [res.stats.get("sharpe")], bpy,
                        res.stats.get("sharpe"))
    rows = [("sharpe (annualised)", fmt(s.sharpe)), ("returns (bars)", fmt(s.n_returns, "n_bars")),
            ("skew", fmt(s.skew)), ("kurtosis", fmt(s.kurtosis)),
            ("probabilistic Sharpe P(SR > 0)", fmt(s.psr))]
    note = ('<p class="note">One configuration, no search: the deflated Sharpe equals the probabilistic Sharpe. '
            "PSR uses the per-bar returns' skew and kurtosis (Bailey &amp; López de Prado).</p>")
    return Section("significance", "Significance", kv_table(rows, "significance-table") + note)


def _trades(res: BacktestResults) -> Section:
    trades = res.trades
    cols = ("entry_time", "entry_price", "exit_time", "exit_price", "side", "units", "pnl", "fees", "is_open")
    shown = trades if len(trades) <= TRADES_SHOWN else trades[: TRADES_SHOWN // 2] + trades[-TRADES_SHOWN // 2:]
    rows = []
    for t in shown:
        row: list[Any] = []
        for col in cols:
            v = t.get(col, "")
            if col in ("entry_price", "exit_price", "units", "pnl", "fees") and v:
                row.append(fmt(float(v)))
            else:
                row.append(v)
        rows.append(row)
    numeric = [c in ("entry_price", "exit_price", "units", "pnl", "fees") for c in cols]
    head = f"<p class=\"note\">{len(trades)} trades"
    head += f" (first and last {TRADES_SHOWN // 2} shown; all in trades.csv)" if len(trades) > TRADES_SHOWN else ""
    head += "</p>"
    return Section("trades", "Trades", head + table(cols, rows, numeric=numeric, table_id="trades-table"))


def _metrics(res: BacktestResults) -> Section:
    rows = [(k, Raw(esc(fmt(v, k)))) for k, v in sorted(res.stats.items())]
    return Section("metrics", "All metrics", kv_table(rows, "metrics-table"))


def render_backtest_report(res: BacktestResults) -> str:
    man = res.manifest
    subtitle = f"{man.strategy.class_path} · {man.data.path}"
    sections = [_summary(res), _provenance(res), _equity(res), _significance(res), _trades(res), _metrics(res)]
    return page(f"Backtest {res.label}", subtitle, sections)
