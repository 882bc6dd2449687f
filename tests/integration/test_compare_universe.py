"""`compare` over two universe backtests (results folders with universe.json): each instrument compared as its
two folders alone would be, and the aggregate over the instruments; different instrument sets are one line,
exit 2."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import cli, problem_lines
from tests.universe_support import SYMBOLS, write_universe

pytestmark = pytest.mark.slow


def backtest(tmp: Path, name: str, params: dict[str, int], bars: Path) -> Path:
    out = tmp / f"res-{name}"
    cfg = {"schema_version": 1, "id": f"sma-{name}", "seed": 7, "data": {"instruments": str(bars / "*.csv")},
           "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": params},
           "execution": {"fee_bps": 1.0}, "output": {"dir": str(out)}}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(cfg))
    proc = cli("backtest", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("cmp-universe")
    bars = write_universe(tmp / "bars")["AAA"].parent
    return tmp, backtest(tmp, "a", {"fast": 5, "slow": 20}, bars), backtest(tmp, "b", {"fast": 20, "slow": 120}, bars)


@pytest.fixture(scope="module")
def compared(results: tuple[Path, Path, Path]) -> tuple[str, Path]:
    tmp, a, b = results
    proc = cli("compare", str(a), str(b), "--output-dir", str(tmp / "out"))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, tmp / "out"


def test_each_instrument_is_compared_as_its_two_folders_alone(results, compared):
    tmp, a, b = results
    _, out = compared
    for symbol in SYMBOLS:
        alone = tmp / f"alone-{symbol}"
        proc = cli("compare", f"{a}/{symbol}", f"{b}/{symbol}", "--output-dir", str(alone))
        assert proc.returncode == 0, proc.stderr
        for name in ("compare.json", "compare.html"):
            assert (out / symbol / name).read_bytes() == (alone / name).read_bytes(), (symbol, name)


def test_the_aggregate_holds_each_instruments_test_and_the_metric_differences(results, compared):
    _, a, b = results
    stdout, out = compared
    doc = json.loads((out / "compare.json").read_text())
    assert doc["kind"] == "universe_compare"
    assert (doc["a"]["name"], doc["b"]["name"]) == ("sma-a", "sma-b")
    assert doc["a"]["universe_sha256"] == json.loads((a / "universe.json").read_text())["universe_sha256"]
    assert [row["symbol"] for row in doc["instruments"]] == list(SYMBOLS)
    better: list[Any] = []
    sharpe_diffs = []
    for row in doc["instruments"]:
        alone = json.loads((out / row["symbol"] / "compare.json").read_text())
        assert row["p_two_sided"] == alone["paired_t_test"]["p_two_sided"]
        assert row["verdict"] == alone["verdict"]
        p, mean = alone["paired_t_test"]["p_two_sided"], alone["paired_t_test"]["mean_difference"]
        better.append(None if p is None or p >= 0.05 else ("A" if mean > 0 else "B"))
        assert row["better"] == better[-1]
        stats_a = json.loads((a / row["symbol"] / "stats.json").read_text())
        stats_b = json.loads((b / row["symbol"] / "stats.json").read_text())
        assert row["metrics"]["sharpe"] == {"a": stats_a["sharpe"], "b": stats_b["sharpe"],
                                            "difference": stats_a["sharpe"] - stats_b["sharpe"]}
        sharpe_diffs.append(stats_a["sharpe"] - stats_b["sharpe"])
    assert doc["aggregate"]["verdicts"] == {"A": better.count("A"), "B": better.count("B"), "none": better.count(None)}
    sharpe = doc["aggregate"]["metrics"]["sharpe"]
    assert sharpe["n"] == 3 and sharpe["mean"] == pytest.approx(statistics.fmean(sharpe_diffs), abs=1e-12)
    assert (sharpe["min"], sharpe["max"]) == (min(sharpe_diffs), max(sharpe_diffs))
    assert sharpe["share_positive"] == sum(d > 0 for d in sharpe_diffs) / 3
    assert stdout.splitlines()[0].startswith(f"compare: A = sma-a ({a}), B = sma-b ({b}): a universe of 3 instruments")
    assert [line.split()[0] for line in stdout.splitlines()[3:6]] == list(SYMBOLS)
    assert "verdict: A earns more per bar on" in stdout
    assert "universe-compare-table" in (out / "compare.html").read_text()


def test_sides_with_different_instruments_are_one_line_and_write_nothing(results, tmp_path):
    _, a, b = results
    fewer = tmp_path / "fewer"
    shutil.copytree(b, fewer)
    shutil.rmtree(fewer / "CCC")
    doc = json.loads((fewer / "universe.json").read_text())
    doc["instruments"] = [row for row in doc["instruments"] if row["symbol"] != "CCC"]
    doc["instruments"].append({**doc["instruments"][0], "symbol": "DDD", "results": "DDD/"})
    (fewer / "universe.json").write_text(json.dumps(doc))
    proc = cli("compare", str(a), str(fewer), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [
        "compare: A and B hold different instruments: only in A: CCC; only in B: DDD (both must be backtests of one "
        "universe)"]
    assert not (tmp_path / "out").exists()


def test_a_universe_against_one_backtest_is_one_line(results, tmp_path):
    _, a, b = results
    proc = cli("compare", str(a), str(b / "AAA"), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [
        f"compare: A ({a}) is a universe backtest of 3 instruments and the other side one backtest: compare two "
        f"universe results folders, or one instrument's folder ({a}/<symbol>) with the other"]
    assert not (tmp_path / "out").exists()


def test_a_universe_config_is_one_line_pointing_at_its_results(results, tmp_path):
    tmp = results[0]
    proc = cli("compare", str(tmp / "a.json"), str(tmp / "b.json"), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert problem_lines(proc.stderr) == [f"{tmp / 'a.json'}: data: a universe of instruments: backtest it, then "
                                          "compare the two results folders (per instrument and in aggregate)"]
    assert not (tmp_path / "out").exists()
