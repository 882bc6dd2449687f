"""The exported config JSON schemas are committed; a change must be reviewed (UPDATE_GOLDEN=1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from trading_runtime.config.schema import SCHEMAS, schema_json, schema_path


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_committed_schema_is_current(kind, update_golden):
    path = schema_path(kind)
    if update_golden:
        path.parent.mkdir(exist_ok=True)
        path.write_text(schema_json(kind))
    assert path.read_text() == schema_json(kind), f"schema of {kind} changed: review, then UPDATE_GOLDEN=1"


def test_schema_command_prints_the_committed_schema():
    proc = subprocess.run([sys.executable, "-m", "trading_runtime", "schema", "backtest"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert proc.stdout == schema_path("backtest").read_text()


def test_schema_rejects_unknown_keys():
    import json
    schema = json.loads(schema_path("backtest").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"schema_version", "id", "data", "strategy", "seed"}
