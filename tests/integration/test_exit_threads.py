"""Issue 10, bug 2: exit 134 ("terminate called without an active exception") at interpreter exit.

The cause: Arrow's thread pools. Reading Parquet with threads (``ParquetFile.read()``, and
``pq.read_table`` even with ``use_threads=False``, which starts the I/O pool) leaves native
``std::thread`` workers that C++ static destructors tear down at exit; when one is still starting or
running then, libstdc++ calls ``std::terminate`` and the process aborts with SIGABRT (134), after the
step's work was done — about 1 run in 60 of a short script under load, which Argo does not retry. The
runtime now reads Parquet without threads, so no Arrow pool thread exists at exit.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT
from tests.optimize_support import small_config, write_json

# Every Parquet path of the runtime: the bars loader, the equity writer, the report's equity reader.
_THREADS_AFTER_PARQUET = """
import os
from pathlib import Path
import numpy as np
from trading_runtime.data import load_bars
from trading_runtime.report.results import read_equity_parquet
from trading_runtime.execution import outputs

threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
bars = load_bars(Path("tests/data/parts/synthetic_1m.parquet"))
import pyarrow as pa, pyarrow.parquet as pq, io
sink = io.BytesIO()
n = 1000
pq.write_table(pa.table({"ts": np.arange(n, dtype=np.int64), "equity": np.ones(n), "position": np.zeros(n)}), sink)
read_equity_parquet(sink.getvalue())
print(before, threads())
"""


def test_reading_parquet_starts_no_native_thread():
    proc = subprocess.run([sys.executable, "-c", _THREADS_AFTER_PARQUET], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert after == before, f"{after - before} thread(s) started by the Parquet reads"


STRESS_RUNS = 20


@pytest.mark.slow
def test_optimize_init_never_aborts_at_exit_under_load(tmp_path):
    """A bounded stress test: 20 runs of `optimize init` (Parquet bars, Optuna journal), two at a time."""
    config = write_json(tmp_path / "config.json", small_config())

    def init(i: int) -> tuple[int, str]:
        proc = subprocess.run([sys.executable, "-m", "trading_runtime", "-q", "optimize", "init", "--config",
                               str(config), "--store", str(tmp_path / f"store-{i}")], cwd=ROOT, capture_output=True,
                              text=True, check=False, timeout=300)
        return proc.returncode, proc.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(init, range(STRESS_RUNS)))
    failures = [(code, err[-300:]) for code, err in outcomes if code != 0]
    assert failures == []
