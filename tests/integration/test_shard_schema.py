"""A shard result written by an older version (schema_version 1: it indexed the shard's own equity blob,
which this version neither writes nor reads) is named in one line, never a traceback (issue 13): fan-in
counts the shard failed (exit 3, a rerun replaces it), and the report of an experiment holding one exits 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.experiment_support import experiment_config, problem_lines, write_json
from trading_runtime.cli.main import main
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import open_store, read_complete, write_complete

CONFIG = experiment_config(validation={"kind": "holdout", "test_fraction": 0.25}, shards={"runs_per_shard": 6})


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main([*argv, "--log-format", "json"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, problem_lines(err)


def _as_version_1(store_uri: str, key: str) -> None:
    store = open_store(store_uri)
    result = json.loads(read_complete(store, key))
    old = {**result, "schema_version": 1, "equity": {"sha256": "0" * 64, "size": 0, "series": [], "layout": "x"}}
    write_complete(store, key, canonical_bytes(old))  # a complete, marked result: only its version is old


def test_an_old_shard_result_is_named_by_fan_in_and_by_the_report(tmp_path: Path, capsys):
    config = write_json(tmp_path / "exp.json", CONFIG)
    store = str(tmp_path / "store")
    assert _run(capsys, "sweep", "--config", str(config), "--store", store, "--workers", "1", "-q")[0] == 0
    experiment_id = open_store(store).list_keys("experiments/")[0].split("/")[1]
    keys = ExperimentKeys(experiment_id, "rps-6")
    results = f"{open_store(store).uri}/{keys.root}"

    _as_version_1(store, keys.shard_result("shard-00001"))
    code, lines = _run(capsys, "report", "--results", results)
    assert (code, lines) == (3, [
        f"{open_store(store).uri}/{keys.shard_result('shard-00001')}: schema_version 1, this version reads 2 "
        "(written by another trading-runtime version: run the sweep again)"])

    code, lines = _run(capsys, "finalize", "--store", store, "--experiment", experiment_id)
    assert (code, lines) == (3, [
        f"experiment {experiment_id}: 1 of 2 shards complete (1 failed, 0 missing); runs 6 of 12",
        f"shard shard-00001: failed: result {keys.shard_result('shard-00001')}: schema_version 1, this version "
        "reads 2 (written by another trading-runtime version: run the shard again)"])

    # the sweep's resume runs it again, as any shard fan-in does not accept
    code, lines = _run(capsys, "sweep", "--config", str(config), "--store", store, "--workers", "1")
    assert code == 0
    assert any(line.startswith(f"sweep {experiment_id}: ran 1 shard(s), 2/2 complete") for line in lines)
