"""What the cluster templates need from the CLI: plan --experiment-id-file, record-status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import ROOT
from trading_runtime.cli.main import main
from trading_runtime.cli.record_status import status_document, status_key
from trading_runtime.errors import InputError
from trading_runtime.store import open_store, read_complete


def test_plan_writes_the_experiment_id_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    id_file = tmp_path / "experiment-id"
    assert main(["plan", "--config", "trading_runtime/local/sweep.json", "--store", str(tmp_path / "s"),
                 "--experiment-id-file", str(id_file)]) == 0
    shards = json.loads(capsys.readouterr().out)
    experiment = id_file.read_text(encoding="utf-8")
    assert experiment.startswith("sma-walk-forward-") and "\n" not in experiment
    assert shards == [f"shard-{i:05d}" for i in range(9)]
    assert read_complete(open_store(str(tmp_path / "s")), f"experiments/{experiment}/plan.json")


def test_record_status_writes_a_complete_record(tmp_path, capsys):
    store = tmp_path / "s"
    assert main(["record-status", "--store", str(store), "--workflow", "wf-abc12", "--status", "Failed",
                 "--detail", "config=trading_runtime/local/sweep.json", "--detail", "duration_seconds=12.5"]) == 0
    assert capsys.readouterr().out == f"{store.as_uri()}/workflows/wf-abc12/status.json\n"
    doc = json.loads(read_complete(open_store(str(store)), "workflows/wf-abc12/status.json"))
    assert doc["status"] == "Failed" and doc["workflow"] == "wf-abc12"
    assert doc["details"] == {"config": "trading_runtime/local/sweep.json", "duration_seconds": "12.5"}


def test_record_status_document_and_bad_input():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert status_document("w", "Succeeded", [], now) == {
        "workflow": "w", "status": "Succeeded", "recorded_at": "2026-01-02T03:04:05+00:00"}
    with pytest.raises(InputError, match=r"--detail 'oops': expected KEY=VALUE"):
        status_document("w", "Succeeded", ["oops"], now)
    with pytest.raises(InputError, match="expected a name without '/'"):
        status_key("a/b")
    with pytest.raises(InputError, match=r"--workflow '\.\.'"):
        status_key("..")
