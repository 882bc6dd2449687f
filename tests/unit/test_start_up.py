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


def planned_experiment(config: Path, store: Path) -> str:
    """``trading-runtime plan`` of ``config`` into ``store`` in a subprocess; the experiment id."""
    ids = store.parent / f"{store.name}.id"
    subprocess.run([sys.executable, "-m", "trading_runtime", "plan", "--config", str(config), "--store", str(store),
                    "--experiment-id-file", str(ids), "-q"], cwd=ROOT, check=True, capture_output=True)
    return ids.read_text().strip()


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


STARTED_LATER = ("trading_runtime.report", "trading_runtime.report.optuna", "trading_runtime.report.study_documents",
                 "trading_runtime.fanin", "trading_runtime.optimize", "optuna", "pyarrow.parquet", "pyarrow.fs",
                 "pyarrow._s3fs", "ssl", "urllib.request")


def _experiment(tmp_path: Path, data: Path) -> Path:
    """A small grid experiment (12 runs, 2 shards) on ``data``: the first 4 days of the committed bars."""
    config = {
        "schema_version": 1, "id": "start-up", "seed": 7,
        "data": {"path": str(data), "timeframe": "1m", "end": "2024-01-05T00:00:00Z"},
        "strategy": {"class_path": "trading_runtime.strategies.sma_cross:SmaCross", "params": {}},
        "sweep": {"kind": "grid", "params": {"fast": [5, 10, 20], "slow": [30, 60, 90, 120]}},
        "shards": {"runs_per_shard": 6},
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(config))
    return path


def test_a_shard_reloading_its_planned_data_does_not_validate_the_same_bytes_again(tmp_path: Path) -> None:
    """plan validates the bars; run-shard reads the same bytes (sha256 pinned by the plan and checked) and
    does not run the bar rules on them again. Neither step imports fan-in, the report, Optuna or Arrow's
    filesystems (S3/GCS: ssl)."""
    config = _experiment(tmp_path, PARQUET)
    got = fresh(f"""
import json, sys
LATER = {STARTED_LATER!r}
from trading_runtime.data import loader
validated = []
real = loader.validate_bars
def counting(bars, **kwargs):
    validated.append(len(bars))
    return real(bars, **kwargs)
loader.validate_bars = counting
from trading_runtime.cli.main import main
store, ids = {str(tmp_path / "store")!r}, {str(tmp_path / "id")!r}
codes = [main(["plan", "--config", {str(config)!r}, "--store", store, "--experiment-id-file", ids, "-q"])]
planned = list(validated)
experiment = open(ids).read().strip()
codes.append(main(["run-shard", "--store", store, "--experiment", experiment, "--shard", "shard-00000", "-q"]))
print(json.dumps({{"codes": codes, "plan": planned, "shard": validated[len(planned):],
                  "loaded": [m for m in LATER if m in sys.modules]}}))
""")
    assert got == {"codes": [0, 0], "plan": [20_160], "shard": [], "loaded": []}


def test_a_shard_refuses_data_that_changed_since_planning(tmp_path: Path) -> None:
    """The planned file replaced by bars that break a rule (one high below its low): the shard's sha256 check
    refuses them (exit 2, one line naming both digests), and no result is written."""
    import hashlib

    import pyarrow.parquet as pq

    data = tmp_path / "bars.parquet"
    data.write_bytes(PARQUET.read_bytes())
    planned = hashlib.sha256(data.read_bytes()).hexdigest()
    config = _experiment(tmp_path, data)
    store = tmp_path / "store"
    common = [sys.executable, "-m", "trading_runtime"]
    experiment = planned_experiment(config, store)
    table = pq.read_table(data)
    high = table.column("high").to_numpy().copy()
    high[100] = table.column("low")[100].as_py() - 1.0
    pq.write_table(table.set_column(table.schema.get_field_index("high"), "high", pa.array(high)), data)
    changed = hashlib.sha256(data.read_bytes()).hexdigest()
    proc = subprocess.run([*common, "run-shard", "--store", str(store), "--experiment", experiment, "--shard",
                           "shard-00000", "-q"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{data}: sha256 {changed} does not match the plan's data sha256 (experiment {experiment}) {planned}"]
    assert not list(store.rglob("shard-00000/result.json*"))


def test_a_sweep_imports_fan_in_and_the_report_in_their_phases_and_never_optunas(tmp_path: Path) -> None:
    """When the sweep's shards start, neither fan-in nor the report (nor Optuna, nor Arrow's filesystems) is
    imported, but for what the sweep's tail imports while its data are being read (``cli.sweep``: none when the
    data are there first); after it, Optuna's report and the optimize package still are not."""
    config = _experiment(tmp_path, PARQUET)
    tail = fresh(f"""
import json, sys
from trading_runtime.orchestration.sweep import import_tail
import_tail()
print(json.dumps([m for m in {STARTED_LATER!r} if m in sys.modules]))
""")
    assert isinstance(tail, list) and "trading_runtime.report" in tail and not any("optuna" in m for m in tail)
    got = fresh(f"""
import json, sys
LATER = {STARTED_LATER!r}
from trading_runtime.cli.main import main
from trading_runtime.orchestration import sweep
seen = {{}}
real_execute = sweep.execute
def execute(*args, **kwargs):
    seen["shards"] = [m for m in LATER if m in sys.modules]
    return real_execute(*args, **kwargs)
sweep.execute = execute
code = main(["sweep", "--config", {str(config)!r}, "--store", {str(tmp_path / "store")!r}, "--workers", "1", "-q"])
seen["after"] = [m for m in LATER if m in sys.modules and ("optuna" in m or m.startswith("trading_runtime.optimize"))]
print(json.dumps({{"code": code, **seen}}))
""")
    assert got["code"] == 0 and got["after"] == []
    assert set(got["shards"]) <= set(tail)  # type: ignore[arg-type]


TAIL_WAIT = """
import json, sys, threading, time
from trading_runtime.cli.sweep import tail_imported_meanwhile
from trading_runtime.data.background import in_background
from trading_runtime.orchestration.sweep import TAIL_MODULES

go = threading.Event()
seen = {"ready": {}}

class Watch:
    \"\"\"Notes, as each tail module's import starts, whether the data were ready; at the import of ``COME`` (started
    by the wait), lets the data thread end and waits for it.\"\"\"
    def find_spec(self, name, path=None, target=None):
        if name in TAIL_MODULES:
            seen["ready"][name] = read.ready()
        if name == COME:
            go.set()
            read.thread.join()
        return None

def data():
    if COME is None:  # the data come once every tail module is imported (or being imported)
        while not all(m in sys.modules for m in TAIL_MODULES):
            time.sleep(0.001)
    else:
        go.wait()
    return "data"

with in_background(lambda: "data", "ready-at-once") as read:
    read.thread.join()
    seen["at_once"] = [tail_imported_meanwhile(read)(), [m for m in TAIL_MODULES if m in sys.modules]]
sys.meta_path.insert(0, Watch())
with in_background(data, "slow") as read:
    seen["slow"] = [tail_imported_meanwhile(read)(), [m for m in TAIL_MODULES if m in sys.modules]]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("come", [0, 1, None], ids=["at-the-first-module", "at-the-second", "after-the-last"])
def test_a_sweep_imports_its_tails_modules_only_while_its_data_are_not_ready(come: int | None) -> None:
    """``sweep`` calls its data's read through ``cli.sweep.tail_imported_meanwhile``: when the data are there,
    it imports nothing and returns them; while they are not, it imports the tail's modules
    (``orchestration.sweep.TAIL_MODULES``: what finalize and the report run, imported later otherwise) one at a
    time, each only while the data are still being read, then returns the data. Here the data come during the
    import of the first or of the second tail module (no later one is imported), or once all are imported."""
    from trading_runtime.orchestration.sweep import TAIL_MODULES

    module = None if come is None else TAIL_MODULES[come]
    got = fresh(f"COME = {module!r}\n" + TAIL_WAIT)
    assert got["at_once"] == ["data", []]  # ready: nothing imported
    imported = list(TAIL_MODULES if come is None else TAIL_MODULES[:come + 1])
    assert got["slow"] == ["data", imported]
    assert got["ready"] == {m: False for m in imported}  # each import started while the data were not ready


def test_run_shard_loads_its_kernels_while_the_data_are_read_with_the_types_its_runs_use(tmp_path: Path) -> None:
    """The SMA and simulation kernels are loaded (``kernel_warmup.warm_up_quietly``, while the data are read on
    their thread) when the shard's first run starts, with the argument types of the shard's runs: the shard
    adds no other compiled version. No thread is left running."""
    config = _experiment(tmp_path, PARQUET)
    got = fresh(f"""
import json, threading
from trading_runtime.cli.main import main
from trading_runtime.execution import experiment
from trading_framework._kernel import simulate_kernel
from trading_framework.features import _rolling_mean
KERNELS = (_rolling_mean, simulate_kernel)
seen = {{}}
real_run = experiment.run_shard
def run(*args, **kwargs):
    seen["warmed"] = [len(k.overloads) for k in KERNELS]
    return real_run(*args, **kwargs)
experiment.run_shard = run
store, ids = {str(tmp_path / "store")!r}, {str(tmp_path / "id")!r}
codes = [main(["plan", "--config", {str(config)!r}, "--store", store, "--experiment-id-file", ids, "-q"])]
experiment_id = open(ids).read().strip()
codes.append(main(["run-shard", "--store", store, "--experiment", experiment_id, "--shard", "shard-00000", "-q"]))
print(json.dumps({{"codes": codes, **seen, "after": [len(k.overloads) for k in KERNELS],
                  "alive": [t.name for t in threading.enumerate() if t is not threading.main_thread()]}}))
""")
    assert got["codes"] == [0, 0]
    assert got["warmed"] == [1, 1]  # loaded before the first run
    assert got["after"] == [1, 1]  # the runs used those very versions
    assert got["alive"] == []  # joined


def test_a_sweep_loads_its_kernels_while_its_data_are_read(tmp_path: Path) -> None:
    """``sweep`` has no plan while its data are read: its kernels are loaded then from its grid's first parameter
    set that the strategy accepts (``kernel_warmup.warm_up_for_config``, on synthetic bars), so they are loaded
    when its shards start, and its runs use those very versions (no other compiled version is added)."""
    config = _experiment(tmp_path, PARQUET)
    got = fresh(f"""
import json
from trading_runtime.cli.main import main
from trading_runtime.orchestration import sweep
from trading_framework._kernel import simulate_kernel
from trading_framework.features import _rolling_mean
KERNELS = (_rolling_mean, simulate_kernel)
from trading_runtime.cli import allocator
from trading_runtime.execution import read_ahead
seen = {{}}
real_execute, real_read = sweep.execute, read_ahead.read_config_data
def execute(*args, **kwargs):
    seen["warmed"] = [len(k.overloads) for k in KERNELS]
    seen["mapped_in_shards"] = allocator.large_blocks_are_mapped()
    return real_execute(*args, **kwargs)
def read(*args, **kwargs):
    seen["mapped_in_read"] = allocator.large_blocks_are_mapped()
    return real_read(*args, **kwargs)
sweep.execute, read_ahead.read_config_data = execute, read
code = main(["sweep", "--config", {str(config)!r}, "--store", {str(tmp_path / "store")!r}, "--workers", "1", "-q"])
print(json.dumps({{"code": code, **seen, "after": [len(k.overloads) for k in KERNELS]}}))
""")
    assert got == {"code": 0, "warmed": [1, 1], "after": [1, 1],
                   # cli/allocator.py: large blocks mapped apart while the data are read beside the kernels' loading,
                   # then the heap kept for the shards' arrays
                   "mapped_in_read": True, "mapped_in_shards": False}


def test_a_sweep_whose_strategy_cannot_load_reports_it_as_before(tmp_path: Path) -> None:
    """The warm-up is quiet: a strategy class that is not there is reported by the sweep itself (one line, exit 2),
    as without the warm-up."""
    config = _experiment(tmp_path, PARQUET)
    doc = json.loads(config.read_text())
    doc["strategy"]["class_path"] = "trading_runtime.strategies.sma_cross:NoSuchStrategy"
    config.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "trading_runtime", "sweep", "--config", str(config), "--store",
                           str(tmp_path / "store"), "--workers", "1", "-q"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "NoSuchStrategy" in lines[0] and "Traceback" not in proc.stderr


WRITES = {"run-shard": "shard-00000/result.json", "plan": "plan.json", "sweep": "shard-00000/result.json",
          "backtest": "stats.json"}


@pytest.mark.parametrize("command", list(WRITES))
def test_the_data_read_starts_before_numba_is_imported(tmp_path: Path, command: str) -> None:
    """``run-shard``, ``plan``, ``sweep`` and ``backtest``: the CLI's modules and the subcommand's import no
    numba; the data-reading thread is started (``Thread.start``, recorded on the main thread: no race) before
    numba is imported, and the data are read on it; numba is imported afterwards, and the command succeeds."""
    config = _experiment(tmp_path, PARQUET)
    store = tmp_path / "store"
    read = {"run-shard": "read_planned_data", "backtest": "load_data"}.get(command, "read_config_data")
    argv = [command, "--config", str(config), "--store", str(store)]
    if command == "run-shard":
        argv = ["run-shard", "--store", str(store), "--experiment", planned_experiment(config, store),
                "--shard", "shard-00000"]
    elif command == "sweep":
        argv += ["--workers", "1"]
    elif command == "backtest":
        doc = {k: v for k, v in json.loads(config.read_text()).items() if k not in ("sweep", "shards")}
        doc["strategy"]["params"] = {"fast": 10, "slow": 60}
        config.write_text(json.dumps(doc))
        argv = ["backtest", "--config", str(config), "--output-dir", str(store)]
    got = fresh(f"""
import json, sys, threading
seen = {{"started": []}}
import trading_runtime.cli.main as cli
seen["cli"] = "numba" in sys.modules
cli.subcommand_module({command!r})
seen["parser"] = "numba" in sys.modules
from trading_runtime.execution import read_ahead
real_start, real_read = threading.Thread.start, read_ahead.{read}
def start(self):
    seen["started"].append([self.name, "numba" in sys.modules])
    real_start(self)
def read(*args, **kwargs):
    seen["read on"] = threading.current_thread().name
    return real_read(*args, **kwargs)
threading.Thread.start = start
read_ahead.{read} = read
code = cli.main({[*argv, "-q"]!r})
print(json.dumps({{"code": code, **seen, "numba": "numba" in sys.modules}}))
""")
    assert got["code"] == 0
    assert got["cli"] is False and got["parser"] is False
    assert got["started"][0] == ["experiment-data", False]  # the first thread: the data's, numba not yet imported
    assert got["read on"] == "experiment-data"
    assert got["numba"] is True
    assert list(store.rglob(WRITES[command]))


def test_what_the_data_thread_logs_carries_the_shards_ids(tmp_path: Path) -> None:
    """The data are read on a thread; what that read logs (here the rows ``data.on_invalid="drop"`` removed)
    carries the experiment and shard ids of the command's log context, as on the main thread."""
    import pyarrow.parquet as pq

    data = tmp_path / "bars.parquet"
    table = pq.read_table(PARQUET)
    high = table.column("high").to_numpy().copy()
    high[100] = table.column("low")[100].as_py() - 1.0  # one OHLC-inconsistent row, dropped
    pq.write_table(table.set_column(table.schema.get_field_index("high"), "high", pa.array(high)), data)
    config = _experiment(tmp_path, data)
    doc = json.loads(config.read_text())
    doc["data"]["on_invalid"] = "drop"
    config.write_text(json.dumps(doc))
    store = tmp_path / "store"
    common = [sys.executable, "-m", "trading_runtime"]
    experiment = planned_experiment(config, store)
    proc = subprocess.run([*common, "run-shard", "--store", str(store), "--experiment", experiment, "--shard",
                           "shard-00000", "--log-format", "json"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    dropped = [line for line in map(json.loads, proc.stderr.splitlines()) if "dropped 1 invalid" in line["message"]]
    assert len(dropped) == 1, proc.stderr
    assert (dropped[0]["experiment"], dropped[0]["shard"]) == (experiment, "shard-00000")


@pytest.mark.parametrize("what", ["corrupt", "missing column"])
def test_bad_data_read_on_the_shards_thread_is_one_line_and_exit_2(tmp_path: Path, what: str) -> None:
    """A plan whose data (with the plan's own sha256, so that the digest check passes) cannot be read: the
    error raised on the data thread is the command's one line, exit 2, no traceback, no result written."""
    import hashlib

    import pyarrow.parquet as pq

    from trading_runtime.planning import read_plan, write_plan
    from trading_runtime.store import open_store

    config = _experiment(tmp_path, PARQUET)
    store_dir = tmp_path / "store"
    common = [sys.executable, "-m", "trading_runtime"]
    experiment = planned_experiment(config, store_dir)
    bad = tmp_path / "bad.parquet"
    if what == "corrupt":
        bad.write_bytes(b"PAR1 these bytes are not a Parquet file PAR1")
    else:
        pq.write_table(pq.read_table(PARQUET).drop_columns(["close"]), bad)
    store = open_store(str(store_dir), tmp_path)
    plan = read_plan(store, experiment)
    data = plan.config.data.model_copy(update={"path": str(bad)})
    ref = plan.data.model_copy(update={"path": str(bad), "sha256": hashlib.sha256(bad.read_bytes()).hexdigest()})
    write_plan(store, plan.model_copy(update={"config": plan.config.model_copy(update={"data": data}), "data": ref}))
    proc = subprocess.run([*common, "run-shard", "--store", str(store_dir), "--experiment", experiment, "--shard",
                           "shard-00000", "-q"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    expected = f"{bad}: cannot read Parquet: " if what == "corrupt" else f"{bad}: missing column(s) close "
    assert lines[0].startswith(expected), lines[0]
    assert not list(store_dir.rglob("shard-00000/result.json*"))


LIGHT_NUMBA = """
import json, sys
import trading_runtime.cli.main
import numba.core.config
loaded = {m: m in sys.modules for m in ("numba", "scipy", "yaml")}
have_yaml = numba.core.config._HAVE_YAML
import numpy as np
import scipy, yaml
from numba import njit
print(json.dumps({"loaded": loaded, "have_yaml": have_yaml, "later": [scipy.__name__, yaml.__name__],
                  "compiled": njit(lambda a: a * 2.0)(np.arange(3.0)).tolist()}))
"""


def test_the_cli_imports_numba_without_scipy_or_yaml_and_both_stay_usable() -> None:
    """numba's import in a CLI process skips SciPy's version check and PyYAML (no .numba_config.yaml in the
    working directory); both stay importable afterwards and numba still compiles."""
    got = fresh(LIGHT_NUMBA)
    assert got == {"loaded": {"numba": True, "scipy": False, "yaml": False}, "have_yaml": False,
                   "later": ["scipy", "yaml"], "compiled": [0.0, 2.0, 4.0]}


def test_a_numba_config_file_in_the_working_directory_is_still_read(tmp_path: Path) -> None:
    """With a .numba_config.yaml in the working directory, numba imports PyYAML and applies the file."""
    (tmp_path / ".numba_config.yaml").write_text("developer_mode: 1\n")
    code = LIGHT_NUMBA.replace("have_yaml = numba.core.config._HAVE_YAML",
                               "have_yaml = [numba.core.config._HAVE_YAML, numba.core.config.DEVELOPER_MODE]")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == {"numba": True, "scipy": False, "yaml": True}
    assert got["have_yaml"] == [True, 1]  # the file's setting applied


def test_the_collector_is_paused_only_while_the_clis_modules_are_imported() -> None:
    """``cli.main``'s imports and ``main``'s parser (the subcommand's modules) run with the cyclic collector
    off; it is back on, as it was, when the command runs and after it."""
    got = fresh("""
import gc, json
states = []
import trading_runtime.cli.main as cli
from trading_runtime.cli import schema
real_run = schema.run
def run(args):
    states.append(gc.isenabled())
    return real_run(args)
schema.run = run
real_build = cli.build_parser
def build(argv=None):
    states.append(gc.isenabled())
    return real_build(argv)
cli.build_parser = build
after_import = gc.isenabled()
code = cli.main(["schema", "backtest"])
print(json.dumps({"after_import": after_import, "building, running": states, "after": gc.isenabled(),
                  "code": code}))
""")
    assert got == {"after_import": True, "building, running": [False, True], "after": True, "code": 0}


def test_the_imported_objects_are_not_walked_when_the_collector_resumes() -> None:
    """Importing ``cli.main`` and building ``run-shard``'s parser: no collection meanwhile walks more than a
    few thousand objects (before, the first one after each pause walked every object imported, 86k here);
    the imported objects are in the oldest generation, and the collector is on."""
    got = fresh("""
import gc, json
walked = []
def record(phase, info):
    if phase == "start":
        walked.append(sum(len(gc.get_objects(g)) for g in range(info["generation"] + 1)))
gc.callbacks.append(record)
import trading_runtime.cli.main as cli
cli.build_parser(["run-shard"])
gc.callbacks.remove(record)
print(json.dumps({"largest walk": max(walked), "oldest": len(gc.get_objects(2)), "enabled": gc.isenabled()}))
""")
    largest, oldest = got["largest walk"], got["oldest"]
    assert isinstance(largest, int) and largest < 20_000
    assert isinstance(oldest, int) and oldest > 50_000
    assert got["enabled"] is True


def test_a_pause_inside_frozen_objects_leaves_them_frozen() -> None:
    """A caller that froze objects before (``gc.freeze``): the pause does not unfreeze them."""
    got = fresh("""
import gc, json
from trading_runtime.cli.startup import collection_paused
gc.freeze()
frozen = gc.get_freeze_count()
with collection_paused():
    made = [[i] for i in range(1000)]
print(json.dumps({"kept frozen": gc.get_freeze_count() >= frozen > 0, "enabled": gc.isenabled()}))
""")
    assert got == {"kept frozen": True, "enabled": True}
