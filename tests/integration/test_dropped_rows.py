"""Rows dropped by ``data.on_invalid: "drop"`` are never dropped silently: an experiment's plan.json and
summary.json and an Optuna study's metadata.json carry ``data.dropped`` (counts per rule), the typed result
documents read them back, and every report shows them (issue 12 §1)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.experiment_support import PARQUET, cli, experiment_config, write_json
from trading_runtime.fanin.documents import ExperimentSummary, parse_document
from trading_runtime.report.study_documents import StudyMetadata
from trading_runtime.store import open_store

pytestmark = pytest.mark.slow

DROPPED = {"duplicate_timestamp": 1, "non_positive_price": 1, "ohlc_inconsistent": 1}
IN_WORDS = ("dropped 3 invalid row(s) (data.on_invalid=drop): 1 duplicate timestamp, 1 non positive price, "
            "1 ohlc inconsistent")


def glitched_csv(tmp_path: Path) -> Path:
    """Three days of the committed bars with three vendor glitches, one per rule."""
    df = pd.read_parquet(PARQUET).iloc[:3 * 1440].reset_index(drop=True)
    df.loc[100, "open"] = 0.0  # non-positive price
    df.loc[200, "high"] = df.loc[200, "low"] - 1.0  # high below low: OHLC-inconsistent
    df = pd.concat([df.iloc[:301], df.iloc[300:301], df.iloc[301:]])  # row 300 twice: a repeated timestamp
    path = tmp_path / "glitched.csv"
    df.to_csv(path, index=False)
    return path


def test_a_sweep_records_the_dropped_rows_in_plan_summary_and_report(tmp_path: Path) -> None:
    config = write_json(tmp_path / "exp.json", experiment_config(
        data={"path": str(glitched_csv(tmp_path)), "end": None, "on_invalid": "drop"},
        sweep={"kind": "grid", "params": {"fast": [5, 10], "slow": [30]}}, validation={"kind": "full"},
        warmup_bars=30, store=str(tmp_path / "store")))
    proc = cli("sweep", "--config", str(config), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    store = open_store(str(tmp_path / "store"))
    base = proc.stdout.strip().removesuffix("/summary.json").removeprefix(store.uri.rstrip("/") + "/")
    plan = json.loads(store.get_bytes(f"{base}/plan.json"))
    assert plan["data"]["dropped"] == DROPPED
    assert plan["data"]["n_bars"] == 3 * 1440 - 2
    raw = store.get_bytes(f"{base}/summary.json")
    assert json.loads(raw)["data"]["dropped"] == DROPPED
    assert parse_document(ExperimentSummary, raw, "summary.json").data.dropped == DROPPED
    assert IN_WORDS in store.get_bytes(f"{base}/report.html").decode()


def test_an_optuna_study_records_the_dropped_rows_in_its_metadata_and_report(tmp_path: Path) -> None:
    config = write_json(tmp_path / "study.json", experiment_config(
        data={"path": str(glitched_csv(tmp_path)), "end": None, "on_invalid": "drop"},
        sweep={"kind": "optuna", "sampler": {"name": "random", "seed": 1}, "n_trials": 4, "batch_size": 2,
               "space": {"fast": {"type": "int", "low": 5, "high": 10}, "slow": {"type": "int", "low": 20, "high": 40}},
               "objectives": [{"metric": "sharpe", "direction": "maximize"}]},
        validation={"kind": "holdout", "test_fraction": 0.3}, warmup_bars=40, objective=None,
        store=str(tmp_path / "store")))
    proc = cli("optimize", "--config", str(config), "--workers", "1", timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = Path(proc.stdout.strip().splitlines()[-1].removeprefix("file://"))
    raw = (results / "metadata.json").read_bytes()
    assert json.loads(raw)["data"]["dropped"] == DROPPED
    assert parse_document(StudyMetadata, raw, "metadata.json").data.dropped == DROPPED
    assert IN_WORDS in (results / "report.html").read_text()
