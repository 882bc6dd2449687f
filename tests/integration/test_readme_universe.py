"""The README's universe example (section "Universes of instruments") runs as written: its pandas snippet writes
the files, its config back-tests them through the real CLI into one folder per instrument and universe.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.experiment_support import cli_env

SECTION = "### Universes of instruments"


def readme_blocks() -> dict[str, str]:
    """The section's first ```python and ```json blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[: section.index("\n### ", len(SECTION))]
    blocks = {}
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S):
        blocks.setdefault(lang, body)
    return blocks


def test_the_readme_universe_example_works_unchanged(tmp_path: Path) -> None:
    blocks = readme_blocks()
    subprocess.run([sys.executable, "-c", blocks["python"]], cwd=tmp_path, check=True, timeout=120)
    (tmp_path / "universe.json").write_text(blocks["json"])
    proc = subprocess.run([sys.executable, "-m", "trading_runtime", "backtest", "--config", "universe.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=cli_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "results"
    assert sorted(p.name for p in out.iterdir()) == ["AAA", "BBB", "CCC", "universe.json"]
    doc = json.loads((out / "universe.json").read_text())
    assert [row["symbol"] for row in doc["instruments"]] == ["AAA", "BBB", "CCC"]
    assert all(row["metrics"]["n_trades"] > 0 for row in doc["instruments"])
    assert doc["aggregate"]["total_return"]["n"] == 3
    manifest = json.loads((out / "AAA" / "manifest.json").read_text())
    assert (manifest["data"]["path"], manifest["data"]["timeframe"]) == ("AAA.csv", "1d")


def test_the_example_is_read_from_the_readme_itself() -> None:
    """The blocks come from the README, not a copy kept in the test."""
    blocks = readme_blocks()
    assert '"instruments": "*.csv"' in blocks["json"] and "to_csv" in blocks["python"]
