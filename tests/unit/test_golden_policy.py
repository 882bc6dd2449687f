"""UPDATE_GOLDEN=1 rewrites golden files, except under CI, where it is refused and nothing changes."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT
from trading_runtime.config.schema import schema_path


def test_update_golden_is_refused_when_ci_is_set():
    golden = schema_path("backtest")
    before = golden.read_bytes()
    env = {**os.environ, "CI": "true", "UPDATE_GOLDEN": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_config_schema.py",
         "-k", "committed_schema_is_current and backtest"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout
    assert "UPDATE_GOLDEN=1 is refused when CI is set" in proc.stdout
    assert golden.read_bytes() == before
