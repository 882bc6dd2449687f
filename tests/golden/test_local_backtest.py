"""The seed-compatible local backtest, run as a real subprocess, against golden stats and trades."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.golden.golden_files import GOLDEN, check_golden

CASE = GOLDEN / "local_backtest"


def run_local(out_dir):
    return subprocess.run(
        [sys.executable, "trading_runtime/local/backtest.py", "--config", "trading_runtime/local/local.json",
         "--output-dir", str(out_dir), "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "results"
    proc = run_local(out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_writes_every_file_and_a_summary(local_results):
    out, proc = local_results
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.parquet", "manifest.json", "meta.json", "report.html", "stats.json", "trades.csv"]
    assert proc.stdout.startswith("backtest local-sma-cross: 20160 bars, ")
    assert proc.stdout.rstrip().endswith(f"results: {out}")


def test_stats_and_trades_match_golden(local_results, update_golden):
    out, _ = local_results
    assert check_golden(CASE / "expected", out, ["stats.json", "trades.csv"], update_golden) == []


def test_manifest_has_provenance_and_file_digests(local_results):
    out, _ = local_results
    import hashlib
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config_id"] == "local-sma-cross"
    data = ROOT / "tests" / "data" / "parts" / "synthetic_1m.csv"
    assert manifest["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["data"]["n_bars"] == 20160
    for name in ("stats.json", "trades.csv", "equity.parquet"):
        assert manifest["files"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    prov = manifest["provenance"]
    assert prov["runtime"]["version"] == "0.1.0"
    assert prov["framework"]["version"] == "0.2.0"
    assert prov["framework"]["commit"]  # git HEAD of the checkout or the image's stamp
    assert prov["environment"]["packages"]["numpy"]
    assert manifest["strategy"]["params"] == {"fast": 20, "slow": 120}


def test_second_run_is_byte_identical(local_results, tmp_path):
    out, _ = local_results
    again = tmp_path / "again"
    proc = run_local(again)
    assert proc.returncode == 0, proc.stderr
    for name in ("stats.json", "trades.csv", "equity.parquet", "manifest.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    assert "Traceback" not in proc.stderr


def test_equity_parquet_matches_stats(local_results):
    import pyarrow.parquet as pq
    out, _ = local_results
    table = pq.read_table(out / "equity.parquet")
    stats = json.loads((out / "stats.json").read_text())
    assert table.num_rows == 20160
    assert table.column("equity")[-1].as_py() == stats["final_equity"]
    exposed = sum(1 for v in table.column("position").to_pylist() if v != 0.0)
    assert exposed / 20160 == stats["exposure"]
