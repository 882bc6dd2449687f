"""Bars files written the usual pandas ways load through the real ``backtest`` CLI and give the same trades
and equity as the committed CSV; each reading rule with its exact one-line error (issue 12 §1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.experiment_support import cli, experiment_config, problem_lines, write_json
from trading_runtime.store import open_store

SOURCE = ROOT / "tests" / "data" / "parts" / "synthetic_1m.csv"
ROWS = 3000


def frame() -> pd.DataFrame:
    """The committed bars (first ROWS) as pandas users hold them: a UTC DatetimeIndex, capitalised columns."""
    df = pd.read_csv(SOURCE, nrows=ROWS)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("timestamp"), utc=True))
    df.index.name = None
    df.columns = [c.capitalize() for c in df.columns]
    df["Adj Close"] = df["Close"]
    return df


def backtest(tmp_path: Path, data_path: Path, name: str, **data: Any) -> tuple[int, list[str], Path]:
    out = tmp_path / f"out-{name}"
    config = {
        "schema_version": 1, "id": "exports", "seed": 7,
        "data": {"path": str(data_path), "timeframe": "1m", **data},
        "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross",
                     "params": {"fast": 20, "slow": 120}},
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    proc = cli("backtest", "--config", str(path), "--output-dir", str(out))
    return proc.returncode, problem_lines(proc.stderr), out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("reference")
    pd.read_csv(SOURCE, nrows=ROWS, dtype=str).to_csv(tmp / "bars.csv", index=False)
    code, lines, out = backtest(tmp, tmp / "bars.csv", "reference")
    assert code == 0, lines
    return out


def same_results(out: Path, reference: Path) -> None:
    for name in ("trades.csv", "equity.parquet"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


EXPORTS: dict[str, tuple[str, Callable[[pd.DataFrame, Path], None], dict[str, Any]]] = {
    # DataFrame.to_csv() of an unnamed UTC index: ",Open,High,...", times "2024-01-01 00:00:00+00:00"
    "to_csv_unnamed_index": ("bars.csv", lambda df, p: df.to_csv(p), {}),
    # a named naive index in New York time: "Date,Open,...", times without an offset
    "to_csv_naive_new_york": ("bars.csv", lambda df, p: df.tz_convert("America/New_York").tz_localize(None)
                              .rename_axis("Date").to_csv(p), {"timezone": "America/New_York"}),
    # no index: the time is a column named datetime; no volume column
    "to_csv_no_index_no_volume": ("bars.csv", lambda df, p: df.drop(columns="Volume").rename_axis("datetime")
                                  .reset_index().to_csv(p, index=False), {}),
    # epoch milliseconds in a column named time
    "to_csv_epoch_ms": ("bars.csv", lambda df, p: df.set_index(df.index.as_unit("ms").asi8).rename_axis("time")
                        .to_csv(p), {"time_unit": "ms"}),
    # DataFrame.to_parquet(): the unnamed tz-aware DatetimeIndex is stored as __index_level_0__
    "to_parquet_aware_index": ("bars.parquet", lambda df, p: df.to_parquet(p), {}),
    # a naive index in Berlin time
    "to_parquet_naive_berlin": ("bars.parquet", lambda df, p: df.tz_convert("Europe/Berlin").tz_localize(None)
                                .to_parquet(p), {"timezone": "Europe/Berlin"}),
}


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_usual_exports_load_unchanged(tmp_path: Path, reference: Path, export: str) -> None:
    file_name, write, data = EXPORTS[export]
    write(frame(), tmp_path / file_name)
    code, lines, out = backtest(tmp_path, tmp_path / file_name, export, **data)
    assert (code, lines) == (0, [])
    same_results(out, reference)


def test_daily_dates_without_time_are_midnight_in_the_timezone(tmp_path: Path) -> None:
    days = pd.DataFrame({"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.0], "close": [1.5, 2.5]},
                        index=pd.Index(["2024-01-02", "2024-01-03"], name="Date"))
    days.to_csv(tmp_path / "days.csv")
    out = tmp_path / "out"
    config = {"schema_version": 1, "id": "days", "seed": 1,
              "data": {"path": str(tmp_path / "days.csv"), "timeframe": "1d", "timezone": "Asia/Tokyo"},
              "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross",
                           "params": {"fast": 1, "slow": 2}}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    proc = cli("backtest", "--config", str(tmp_path / "c.json"), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    # 2024-01-02T00:00 in Tokyo (UTC+9) is 2024-01-01T15:00Z
    assert manifest["data"]["first_ts"] == pd.Timestamp("2024-01-01T15:00:00Z").value


def write_bad(tmp_path: Path, rows: list[str], header: str = "timestamp,open,high,low,close,volume") -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD = ["2024-01-01T00:00:00Z,100,101,99,100.5,1", "2024-01-01T00:01:00Z,100.5,102,100,101,2",
        "2024-01-01T00:02:00Z,101,101.5,100.5,101.2,3"]


def test_missing_column_names_the_columns_found_and_the_closest(tmp_path: Path) -> None:
    path = write_bad(tmp_path, [r.replace("Z", "") for r in GOOD], header="Date,Open,High,Low,Clse,Vol")
    code, lines, _ = backtest(tmp_path, path, "missing")
    assert (code, lines) == (2, [
        f"{path}: missing column(s) close (expected a time column (timestamp, datetime, date, time, ts or an "
        "unnamed first column), open, high, low, close; found Date, Open, High, Low, Clse, Vol); "
        "closest to close: Clse"])


def test_integer_times_need_a_time_unit(tmp_path: Path) -> None:
    df = frame()
    df = df.set_index(df.index.as_unit("ms").asi8).rename_axis("time")
    # evenly spaced: pandas keeps the index as a RangeIndex in its metadata only
    df.to_parquet(tmp_path / "ms.parquet")
    code, lines, _ = backtest(tmp_path, tmp_path / "ms.parquet", "ms")
    assert (code, lines) == (2, [
        f"{tmp_path / 'ms.parquet'}: time: integer times (expected ISO 8601 text or timestamps; for epoch numbers "
        "set data.time_unit to s, ms, us or ns)"])
    code, lines, _ = backtest(tmp_path, tmp_path / "ms.parquet", "ms-set", time_unit="ms")
    assert (code, lines) == (0, [])
    code, lines, _ = backtest(tmp_path, tmp_path / "ms.parquet", "s-set", time_unit="s")
    assert (code, lines) == (2, [f"{tmp_path / 'ms.parquet'}: {ROWS:,} rows: time: expected a timestamp between "
                                 "1677-09-22 and 2262-04-11 (got row 1: 1704067200000, row 2: 1704067260000, "
                                 "row 3: 1704067320000, ...)"])


def test_on_invalid_drop_counts_each_rule_and_records_it(tmp_path: Path) -> None:
    rows = [GOOD[0], GOOD[1],
            GOOD[1].replace(",2", ",9"),  # duplicate time: dropped, the first kept
            "2024-01-01T00:02:00Z,101,100,100.5,101.2,3",  # high < open: OHLC-inconsistent
            "2024-01-01T00:03:00Z,0,101.5,100.5,101.2,3",  # non-positive price
            "2024-01-01T00:04:00Z,101,101.5,100.5,101.2,3"]
    path = write_bad(tmp_path, rows)
    code, lines, _ = backtest(tmp_path, path, "error")
    assert code == 2 and len(lines) == 4, lines
    code, lines, out = backtest(tmp_path, path, "drop", on_invalid="drop")
    assert code == 0, lines
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["n_bars"] == 3
    assert manifest["data"]["dropped"] == {"duplicate_timestamp": 1, "non_positive_price": 1, "ohlc_inconsistent": 1}
    proc = cli("--log-format", "text", "backtest", "--config", str(tmp_path / "drop.json"), "--output-dir",
               str(tmp_path / "again"))
    assert (f"{path}: dropped 3 invalid row(s) (data.on_invalid=drop): 1 duplicate timestamp, "
            "1 non positive price, 1 ohlc inconsistent") in proc.stderr


def test_a_strategy_that_needs_volume_refuses_bars_without_it(tmp_path: Path) -> None:
    frame().drop(columns="Volume").to_csv(tmp_path / "novol.csv")
    config = {"schema_version": 1, "id": "novol", "seed": 7, "data": {"path": str(tmp_path / "novol.csv")},
              "strategy": {"class_path": "tests.experiment_strategies:VolumeSmaCross",
                           "params": {"fast": 20, "slow": 120}}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    proc = cli("backtest", "--config", str(tmp_path / "c.json"), "--output-dir", str(tmp_path / "out"),
               "--allow-strategy-prefix", "tests.experiment_strategies")
    assert (proc.returncode, problem_lines(proc.stderr)) == (2, [
        "strategy tests.experiment_strategies:VolumeSmaCross: the strategy needs volume but the bars have none "
        "(the data file has no volume column)"])
    assert not (tmp_path / "out").exists()


NO_VOLUME = "the strategy needs volume but the bars have none (the data file has no volume column)"
TEST_STRATEGIES = ("--allow-strategy-prefix", "tests.experiment_strategies")


def no_volume_experiment(tmp_path: Path, strategy: str) -> Path:
    """Two parameter sets (fast 5, fast 10), one run per shard, on bars without volume."""
    frame().drop(columns="Volume").to_csv(tmp_path / "novol.csv")
    return write_json(tmp_path / "exp.json", experiment_config(
        data={"path": str(tmp_path / "novol.csv"), "end": None},
        strategy={"class_path": f"tests.experiment_strategies:{strategy}", "params": {}},
        sweep={"kind": "grid", "params": {"fast": [5, 10], "slow": [30]}}, validation={"kind": "full"},
        warmup_bars=30, shards={"runs_per_shard": 1}, store=str(tmp_path / "store")))


def test_run_shard_of_a_strategy_that_needs_volume_is_bad_input(tmp_path: Path) -> None:
    """The shard step (what each Argo pod runs): exit 2 and one line naming the strategy, no traceback;
    the shard is recorded as failed, not complete."""
    config = no_volume_experiment(tmp_path, "VolumeSmaCross")
    plan = cli("plan", "--config", str(config), *TEST_STRATEGIES)
    assert plan.returncode == 0, plan.stderr
    store = open_store(str(tmp_path / "store"))
    experiment_id = next(iter(store.list_keys("experiments/"))).split("/")[1]
    proc = cli("run-shard", "--store", store.uri, "--experiment", experiment_id, "--shard", "shard-00000",
               *TEST_STRATEGIES)
    assert (proc.returncode, problem_lines(proc.stderr)) == (
        2, [f"strategy tests.experiment_strategies:VolumeSmaCross: {NO_VOLUME}"])
    assert "Traceback" not in proc.stderr
    keys = sorted(k.rsplit("/", 1)[-1] for k in store.list_keys(f"experiments/{experiment_id}/shards/"))
    assert keys == ["failed.json"], keys
    failed = json.loads(store.get_bytes(next(iter(store.list_keys(f"experiments/{experiment_id}/shards/")))))
    assert failed["error"] == f"strategy tests.experiment_strategies:VolumeSmaCross: {NO_VOLUME}"


@pytest.mark.parametrize("strategy", ["VolumeSmaCross", "LateVolumeSmaCross"])
def test_a_local_sweep_of_a_strategy_that_needs_volume_is_bad_input(tmp_path: Path, strategy: str) -> None:
    """The local all-in-one with a worker pool: VolumeSmaCross fails in the kernels' warm-up before the pool,
    LateVolumeSmaCross (volume for fast >= 10 only) in a pool worker; both exit 2 with the one line."""
    config = no_volume_experiment(tmp_path, strategy)
    proc = cli("sweep", "--config", str(config), "--workers", "2", *TEST_STRATEGIES)
    # the plan's description (its first line "experiment <id>", then indented lines), then the problem
    lines = [line for line in problem_lines(proc.stderr) if not line.startswith(("experiment ", "  "))]
    assert (proc.returncode, lines) == (2, [f"strategy tests.experiment_strategies:{strategy}: {NO_VOLUME}"])
    assert "Traceback" not in proc.stderr


# -- timeframes (issue 12 §2) -----------------------------------------------------------------------


def daily_weekdays(tmp_path: Path) -> Path:
    """Weekday closes over five weeks: the most common spacing is 1d, weekends are 3d gaps."""
    days = pd.bdate_range("2024-01-01", periods=25, name="Date")
    close = [100.0 + i for i in range(25)]
    pd.DataFrame({"Open": close, "High": [c + 1 for c in close], "Low": [c - 1 for c in close], "Close": close},
                 index=days).to_csv(tmp_path / "daily.csv")
    return tmp_path / "daily.csv"


def test_a_timeframe_that_contradicts_the_bars_is_exit_2(tmp_path: Path) -> None:
    path = daily_weekdays(tmp_path)
    code, lines, _ = backtest(tmp_path, path, "minutes")  # backtest() declares "1m"
    assert (code, lines) == (2, [f"{path}: data.timeframe 1m contradicts the bars: their most common spacing is "
                                 "1d (20 of 24 gaps); set data.timeframe to 1d or leave it out"])


def test_the_timeframe_is_inferred_when_not_given(tmp_path: Path) -> None:
    path = daily_weekdays(tmp_path)
    config = {"schema_version": 1, "id": "daily", "seed": 1, "data": {"path": str(path)},
              "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross",
                           "params": {"fast": 2, "slow": 5}}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    proc = cli("backtest", "--config", str(tmp_path / "c.json"), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["data"]["timeframe"] == "1d"
    config["data"]["timeframe"] = "1d"
    (tmp_path / "d.json").write_text(json.dumps(config))
    proc = cli("backtest", "--config", str(tmp_path / "d.json"), "--output-dir", str(tmp_path / "declared"))
    assert proc.returncode == 0, proc.stderr
    for name in ("stats.json", "trades.csv", "equity.parquet"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "declared" / name).read_bytes()


def test_an_experiment_infers_the_timeframe_and_refuses_a_contradicting_one(tmp_path: Path) -> None:
    """The same rule for plan (and so sweep, optimize and every shard): inferred 1d in plan.json, and a declared
    1m is exit 2 naming the spacing found."""
    path = daily_weekdays(tmp_path)
    config = experiment_config(data={"path": str(path), "timeframe": None, "end": None},
                               sweep={"kind": "grid", "params": {"fast": [2], "slow": [5]}},
                               validation={"kind": "full"}, warmup_bars=5, store=str(tmp_path / "store"))
    proc = cli("plan", "--config", str(write_json(tmp_path / "exp.json", config)))
    assert proc.returncode == 0, proc.stderr
    store = open_store(str(tmp_path / "store"))
    (plan_key,) = [k for k in store.list_keys("experiments/") if k.endswith("/plan.json")]
    assert json.loads(store.get_bytes(plan_key))["data"]["timeframe"] == "1d"
    config["data"]["timeframe"] = "1m"
    proc = cli("plan", "--config", str(write_json(tmp_path / "minutes.json", config)))
    assert (proc.returncode, problem_lines(proc.stderr)) == (2, [
        f"{path}: data.timeframe 1m contradicts the bars: their most common spacing is 1d (20 of 24 gaps); "
        "set data.timeframe to 1d or leave it out"])
