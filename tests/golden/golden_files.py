"""Golden file helpers: compare with declared tolerances, rewrite only under UPDATE_GOLDEN=1."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from trading_runtime.golden.compare import compare

GOLDEN = Path(__file__).resolve().parent / "cases"


def _typed(cell: str) -> Any:
    if cell == "":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def read_csv_records(data: bytes) -> list[dict[str, Any]]:
    return [{k: _typed(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(data.decode()))]


def load_document(path: Path, data: bytes | None = None) -> Any:
    raw = path.read_bytes() if data is None else data
    return read_csv_records(raw) if path.suffix == ".csv" else json.loads(raw)


def check_golden(expected_dir: Path, actual_dir: Path, names: list[str], update: bool) -> list[str]:
    """Difference lines between golden files and produced ones (after an update: none)."""
    if update:
        expected_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(actual_dir / name, expected_dir / name)
    lines = []
    for name in names:
        expected = load_document(expected_dir / name)
        actual = load_document(actual_dir / name)
        lines.extend(d.line(name) for d in compare(expected, actual))
    return lines
