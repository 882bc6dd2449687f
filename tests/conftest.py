"""Shared fixtures: the repository root, a valid backtest config writer."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_CSV = ROOT / "tests" / "data" / "bars" / "synthetic_1m.csv"
LOCAL_CONFIG = ROOT / "trading_runtime" / "local" / "local.json"


@pytest.fixture
def base_config() -> dict[str, Any]:
    """The shipped local config with an absolute data path (tests run from any cwd)."""
    cfg = json.loads(LOCAL_CONFIG.read_text())
    cfg["data"]["path"] = str(DATA_CSV)
    return copy.deepcopy(cfg)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[Any, str], Path]:
    def write(cfg: Any, name: str = "config.json") -> Path:
        p = tmp_path / name
        p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2))
        return p
    return write


@pytest.fixture
def update_golden() -> bool:
    """UPDATE_GOLDEN=1 rewrites golden files; refused under CI."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        if os.environ.get("CI"):
            pytest.fail("UPDATE_GOLDEN=1 is refused when CI is set: golden files change only by review")
        return True
    return False
