"""``backtest`` over a universe of instruments (issue 12 §4): one folder per instrument, byte-identical to
backtesting that instrument alone, and universe.json with the headline metrics and their aggregate."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import cli, problem_lines
from tests.universe_support import SYMBOLS, write_long_format, write_universe

STRATEGY = {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {"fast": 20, "slow": 120}}


def config(data: dict[str, Any], out: Path) -> dict[str, Any]:
    return {"schema_version": 1, "id": "universe", "seed": 7, "data": data, "strategy": STRATEGY,
            "execution": {"fee_bps": 1.0}, "output": {"dir": str(out)}}


def backtest(tmp_path: Path, cfg: dict[str, Any], name: str) -> tuple[int, list[str], str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    proc = cli("backtest", "--config", str(path))
    return proc.returncode, problem_lines(proc.stderr), proc.stdout


def files(folder: Path) -> dict[str, bytes]:
    """Every result file of a backtest folder but meta.json (wall times, host: metadata by design)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "meta.json"}


@pytest.mark.parametrize("form", ["object", "glob", "long"])
def test_each_instrument_folder_is_byte_identical_to_backtesting_it_alone(tmp_path: Path, form: str) -> None:
    paths = write_universe(tmp_path / "bars")
    if form == "object":
        data: dict[str, Any] = {"instruments": {s: str(p) for s, p in paths.items()}}
    elif form == "glob":
        data = {"instruments": str(tmp_path / "bars" / "*.csv")}
    else:
        data = {"path": str(write_long_format(tmp_path / "long.csv")), "symbol_column": "ticker"}
    out = tmp_path / "out"
    code, lines, stdout = backtest(tmp_path, config(data, out), "universe")
    assert code == 0, lines
    assert sorted(p.name for p in out.iterdir()) == [*SYMBOLS, "universe.json"]
    universe = json.loads((out / "universe.json").read_text())
    for symbol in SYMBOLS:
        # the config naming this instrument alone, as a user would write it
        alone = {"path": str(paths[symbol])} if form != "long" else {**data, "symbol": symbol}
        code, lines, _ = backtest(tmp_path, config(alone, out / symbol), symbol)
        assert code == 0, lines
        single = tmp_path / f"single-{symbol}"
        (out / symbol).rename(single)  # keep the universe's folder aside, then run the instrument alone again
        code, lines, _ = backtest(tmp_path, config(alone, out / symbol), symbol)
        assert code == 0, lines
        assert files(out / symbol) == files(single), symbol
        stats = json.loads((single / "stats.json").read_text())
        row = next(r for r in universe["instruments"] if r["symbol"] == symbol)
        manifest = json.loads((single / "manifest.json").read_text())
        assert row["sha256"] == manifest["data"]["sha256"]
        assert row["metrics"]["sharpe"] == stats["metrics"]["sharpe"] if "metrics" in stats else stats["sharpe"]
    sharpes = [r["metrics"]["sharpe"] for r in universe["instruments"]]
    assert [r["symbol"] for r in universe["instruments"]] == list(SYMBOLS)
    assert universe["aggregate"]["sharpe"]["mean"] == pytest.approx(statistics.fmean(sharpes), rel=1e-15)
    assert universe["aggregate"]["sharpe"]["median"] == statistics.median(sharpes)
    assert universe["aggregate"]["sharpe"]["min"] == min(sharpes)
    assert universe["aggregate"]["sharpe"]["share_positive"] == sum(s > 0 for s in sharpes) / 3
    assert "3 instruments" in stdout


def test_universe_json_is_identical_on_a_second_run_and_names_the_universe(tmp_path: Path) -> None:
    paths = write_universe(tmp_path / "bars", fmt="parquet")
    data = {"instruments": {s: str(p) for s, p in paths.items()}}
    code, lines, _ = backtest(tmp_path, config(data, tmp_path / "a"), "a")
    assert code == 0, lines
    code, lines, _ = backtest(tmp_path, config(data, tmp_path / "b"), "b")
    assert code == 0, lines
    a, b = (json.loads((tmp_path / d / "universe.json").read_text()) for d in ("a", "b"))
    assert a["universe_sha256"] == b["universe_sha256"]
    assert (tmp_path / "a" / "universe.json").read_bytes() != b""
    a.pop("config_sha256"), b.pop("config_sha256")  # output.dir differs, nothing else
    assert a == b


@pytest.mark.parametrize(("data", "expected"), [
    ({"instruments": "{tmp}/nothing/*.csv"},
     "{tmp}/universe.json: data.instruments: no file matches '{tmp}/nothing/*.csv' (relative paths: against {root})"),
    ({"instruments": {"bad/name": "x.csv"}},
     "{tmp}/universe.json: data.instruments: symbol 'bad/name': expected 1-64 letters, digits, '.', '_' or '-' "
     "starting with a letter or digit (a safe directory name) (got {{\"bad/name\": \"x.csv\"}})"),
    ({"instruments": "{tmp}/bars/*.csv", "path": "{tmp}/bars/AAA.csv"},
     "{tmp}/universe.json: data: data.instruments and data.path both name the data: give one (a long-format "
     "file: data.path with data.symbol_column) (got path '{tmp}/bars/AAA.csv')"),
])
def test_bad_universes_are_one_line_exit_2(tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    from tests.conftest import ROOT
    write_universe(tmp_path / "bars")
    data = json.loads(json.dumps(data).replace("{tmp}", str(tmp_path)))
    code, lines, _ = backtest(tmp_path, config(data, tmp_path / "out"), "universe")
    assert code == 2
    assert lines == [expected.format(tmp=tmp_path, root=ROOT)]
    assert not (tmp_path / "out").exists()


def test_glob_symbols_must_be_safe_directory_names(tmp_path: Path) -> None:
    paths = write_universe(tmp_path / "bars")
    paths["AAA"].rename(tmp_path / "bars" / "A A.csv")
    code, lines, _ = backtest(tmp_path, config({"instruments": str(tmp_path / "bars" / "*.csv")}, tmp_path / "o"), "u")
    assert code == 2
    assert lines == [f"{tmp_path}/u.json: data.instruments: {tmp_path}/bars/A A.csv: symbol 'A A': expected 1-64 "
                     "letters, digits, '.', '_' or '-' starting with a letter or digit (a safe directory name)"]


@pytest.mark.parametrize(("data", "expected"), [
    ({"symbol_column": "sym"},
     "{long}: data.symbol_column: no column 'sym' (found timestamp, open, high, low, close, volume, ticker)"),
    ({"symbol_column": "ticker", "symbol": "ZZZ"}, "{long} (ticker ZZZ): data.symbol: no rows with ticker = 'ZZZ'"),
])
def test_long_format_problems_are_one_line_exit_2(tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    long = write_long_format(tmp_path / "long.csv")
    code, lines, _ = backtest(tmp_path, config({"path": str(long), **data}, tmp_path / "out"), "long")
    assert code == 2
    assert lines == [expected.format(long=long)]
    assert not (tmp_path / "out").exists()
