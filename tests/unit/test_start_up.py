"""What a shard pod loads before its first result: no pandas for Parquet data, numba without SciPy/cffi.

Each check runs in a fresh interpreter (what a module import did cannot be undone in this one) and
asserts on ``sys.modules`` and on values, never on time (figures: bench/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from trading_runtime.data._columns import _nulls, _numbers

ROOT = Path(__file__).resolve().parents[2]
PARQUET = ROOT / "tests" / "data" / "parts" / "synthetic_1m.parquet"


def fresh(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line) in a new interpreter; its JSON."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_loading_parquet_bars_does_not_import_pandas() -> None:
    got = fresh(f"""
import json, sys
from pathlib import Path
from trading_runtime.data import load_bars
loaded = load_bars(Path({str(PARQUET)!r}))
print(json.dumps({{"pandas": "pandas" in sys.modules, "rows": loaded.n_rows}}))
""")
    assert got == {"pandas": False, "rows": 20_160}


@pytest.mark.parametrize(
    "array",
    [
        pa.array([1.5, -2.0, 3.25, 4.0], pa.float64()),
        pa.array([1.5, -2.0, 3.25, 4.0], pa.float32()),
        pa.array([1, -2, 3, 4], pa.int8()),
        pa.array([1, 2**63, 3, 4], pa.uint64()),
        pa.array([1, None, 3, 4], pa.int64()),
        pa.array([1.0, None, 3.0, 4.0], pa.float64()),
    ],
)
def test_arrow_values_and_nulls_as_numpy_match_pyarrow(array: pa.Array) -> None:
    for part in (array, array.slice(1), array.slice(1, 2)):  # with and without an offset into the buffers
        expected = part.to_numpy(zero_copy_only=False)
        got = _numbers(part)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(_nulls(part), part.is_null().to_numpy(zero_copy_only=False))


def test_numba_starts_without_scipy_blas_or_cffi_and_both_stay_importable() -> None:
    got = fresh("""
import json, sys
import numpy as np
from trading_runtime.execution.numba_start import start_numba
from trading_framework import FeatureCache
from trading_framework.bars import Bars
start_numba()
n = 100
close = np.linspace(100.0, 101.0, n)
sma = FeatureCache(Bars(np.arange(n, dtype=np.int64), close, close, close, close, np.ones(n))).sma(10)
loaded = {name: name in sys.modules for name in ("scipy.linalg", "cffi", "pycparser")}
import numba.np.arraymath
import scipy.linalg.cython_blas
import cffi
print(json.dumps({"loaded": loaded, "blas": numba.np.arraymath._HAVE_BLAS, "sma": float(sma[-1]),
                  "later": [m in sys.modules for m in ("scipy.linalg.cython_blas", "cffi")]}))
""")
    assert got["loaded"] == {"scipy.linalg": False, "cffi": False, "pycparser": False}
    assert got["blas"] is False
    assert got["sma"] == pytest.approx(np.mean(np.linspace(100.0, 101.0, 100)[-10:]), rel=1e-15)
    assert got["later"] == [True, True]


# modules numba imports only to compile (its typing and lowering registries)
REGISTRIES = ("numba.np.arraymath", "numba.np.linalg", "numba.np.random.generator_core")
LOAD_KERNELS = f"""
REGISTRIES = {REGISTRIES!r}
import json, sys
import numpy as np
from trading_runtime.execution.numba_start import start_numba
from trading_framework import ExecutionSpec, FeatureCache, simulate
from trading_framework.bars import Bars
from trading_framework.features import _rolling_mean
start_numba()
n = 500
close = 100.0 + np.cumsum(np.sin(np.arange(n) * 0.37))
bars = Bars(np.arange(n, dtype=np.int64) * 60_000_000_000, close, close + 1.0, close - 1.0, close, np.ones(n))
cache = FeatureCache(bars)
target = np.greater(cache.sma(5), cache.sma(20)).astype(np.float64)
sim = simulate(bars, target, ExecutionSpec())
registries = {{name: name in sys.modules for name in REGISTRIES}}
from numba import njit  # a kernel compiled afterwards, in the same process: numba's full compiler path
twice = njit(lambda a: a * 2.0)(np.arange(3.0))
print(json.dumps({{"registries": registries, "equity": sim.equity.tolist(), "n_trades": len(sim.trades),
                  "hits": sum(_rolling_mean.stats.cache_hits.values()),
                  "compiled_later": twice.tolist(), "blas": sys.modules["numba.np.arraymath"]._HAVE_BLAS}}))
"""


def test_cached_kernels_load_without_numbas_registries_and_compute_the_same(tmp_path: Path) -> None:
    """A kernel from numba's on-disk cache loads without importing numba's compiler registries; a first
    process (empty cache: compiled) and a second (loaded) give the same bits, and compiling still works."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def run() -> dict[str, Any]:
        out = subprocess.run([sys.executable, "-c", LOAD_KERNELS], cwd=ROOT, capture_output=True, text=True,
                             check=True, env=env)
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    compiled, loaded = run(), run()
    assert compiled["hits"] == 0  # nothing cached yet: compiled (which loads the registries)
    assert compiled["registries"] == dict.fromkeys(REGISTRIES, True)
    assert loaded["hits"] == 1  # from the cache
    assert loaded["registries"] == dict.fromkeys(REGISTRIES, False)
    assert loaded["equity"] == compiled["equity"]
    assert loaded["n_trades"] == compiled["n_trades"] > 0
    assert loaded["compiled_later"] == compiled["compiled_later"] == [0.0, 2.0, 4.0]
    assert loaded["blas"] is compiled["blas"] is False  # the probe blocked, whenever arraymath is imported


def test_run_shard_does_not_import_the_integrations_it_does_not_use() -> None:
    """Pushgateway/MLflow code (urllib, the fan-in documents) is imported only when an integration is on."""
    got = fresh("""
import json, sys
import trading_runtime.cli.main, trading_runtime.cli.run_shard
from trading_runtime.cli.integrations import push_shard_metrics
off = push_shard_metrics("e", "shard-00000", 1, 1, False, 0.1)
print(json.dumps({"off": off, "loaded": [m for m in ("trading_runtime.tracking", "trading_runtime.fanin",
                                                     "urllib.request") if m in sys.modules]}))
""")
    assert got == {"off": None, "loaded": []}
