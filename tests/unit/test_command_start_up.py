"""What the ``sweep`` command loads and runs before its first shard: no modules it does not use, no
``ldconfig`` subprocess, and a Parquet file converted one column at a time.

Each check runs in a fresh interpreter (what an import or an allocation did cannot be undone in this
one) and asserts on ``sys.modules``, on calls made and on Arrow's allocation high-water mark, never on
time (figures: bench/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


def fresh(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line) in a new interpreter; its JSON."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def write_bars(path: Path, n: int, row_group_size: int | None = None) -> None:
    ts = pa.array(np.arange(n, dtype=np.int64) * 60_000_000_000, pa.timestamp("ns", tz="UTC"))
    close = 100.0 + np.cumsum(np.tile([0.01, -0.01, 0.02], n // 3 + 1)[:n])
    table = pa.table({"timestamp": ts, "open": close, "high": close + 0.5, "low": close - 0.5, "close": close,
                      "volume": np.ones(n)})
    pq.write_table(table, path, row_group_size=row_group_size)


def test_sweep_start_up_loads_neither_arrow_compute_nor_http_nor_pandas(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    write_bars(path, 3_000)
    got = fresh(f"""
import json, sys
from pathlib import Path
from trading_runtime.cli.main import subcommand_module
subcommand_module("sweep")
from trading_runtime.data import load_bars
loaded = load_bars(Path({str(path)!r}))
unused = ("pyarrow.compute", "urllib.request", "http.client", "pandas")
print(json.dumps({{"loaded": [m for m in unused if m in sys.modules], "rows": loaded.n_rows}}))
""")
    assert got == {"loaded": [], "rows": 3_000}


def test_allocator_and_worker_set_up_run_no_subprocess() -> None:
    # ctypes.util.find_library("c") runs `ldconfig -p` (and maybe gcc) in a subprocess on every call
    got = fresh("""
import json, subprocess
calls = []
class Refused(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        calls.append(args[0] if args else kwargs.get("args"))
        raise OSError("no subprocess here")
subprocess.Popen = Refused
from trading_runtime.cli.allocator import tune_allocator
from trading_runtime.orchestration.pool import setup_worker
applied = tune_allocator()
setup_worker()
print(json.dumps({"applied": applied, "calls": [str(c) for c in calls]}))
""")
    assert got == {"applied": True, "calls": []}


def test_parquet_columns_are_read_and_converted_one_at_a_time(tmp_path: Path) -> None:
    n = 200_000  # six 1.6 MB columns
    path = tmp_path / "bars.parquet"
    write_bars(path, n)
    got = fresh(f"""
import json
import pyarrow as pa
from pathlib import Path
from trading_runtime.data import load_bars
loaded = load_bars(Path({str(path)!r}))
print(json.dumps({{"peak": pa.default_memory_pool().max_memory(), "rows": loaded.n_rows,
                   "close": float(loaded.bars.close[-1])}}))
""")
    column = n * 8
    assert got["rows"] == n
    assert got["close"] == write_close(n)
    # Arrow's high-water mark: one decoded column and the decoder's buffers (~4 columns' bytes here), never
    # the table's six columns at once (reading the table, then combining its chunks, peaked at ~15)
    peak = got["peak"]
    assert isinstance(peak, int)
    assert peak < 6 * column, peak / column


def write_close(n: int) -> float:
    return float((100.0 + np.cumsum(np.tile([0.01, -0.01, 0.02], n // 3 + 1)[:n]))[-1])


def test_a_file_of_several_row_groups_loads_the_same_bars(tmp_path: Path) -> None:
    from trading_runtime.data import load_bars

    one, many = tmp_path / "one.parquet", tmp_path / "many.parquet"
    write_bars(one, 10_000)
    write_bars(many, 10_000, row_group_size=3_000)
    a, b = load_bars(one).bars, load_bars(many).bars
    for name in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(b, name).flags.writeable and getattr(b, name).flags.c_contiguous


def test_a_column_that_cannot_be_decoded_is_one_line(tmp_path: Path) -> None:
    from trading_runtime.data import load_bars
    from trading_runtime.errors import EXIT_INPUT, InputError

    path = tmp_path / "bars.parquet"
    write_bars(path, 1_000)
    raw = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(3)  # low: its pages are garbled, the footer is not
    for i in range(chunk.data_page_offset + 8, chunk.data_page_offset + chunk.total_compressed_size - 4):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    try:
        load_bars(path, display_name="bars.parquet")
    except InputError as e:
        assert e.exit_code == EXIT_INPUT
        assert len(e.lines) == 1 and e.lines[0].startswith("bars.parquet: cannot read Parquet: "), e.lines
    else:
        raise AssertionError("a garbled column loaded")


def test_the_console_entry_freezes_its_objects_out_of_the_collector_and_main_does_not() -> None:
    # The interpreter's last full collection walked every object a command made (numba's registries,
    # results): 0.2-0.5 s of each command's exit here. run() freezes them first; main() alone (in-process
    # callers, tests) leaves the collector as it was.
    got = fresh("""
import atexit, gc, json, sys
from trading_runtime.cli.main import main, run
code = main(["schema", "experiment"])
after_main = gc.get_freeze_count()
atexit.register(lambda: print(json.dumps({"code": code, "after_main": after_main,
                                          "at_exit": gc.get_freeze_count()}), flush=True))
sys.argv = ["trading-runtime", "schema", "experiment"]
run()
""")
    assert got["code"] == 0 and got["after_main"] == 0
    at_exit = got["at_exit"]
    assert isinstance(at_exit, int) and at_exit > 10_000


ARENA_PROBE = """
import json, threading
import numpy as np
from trading_runtime.cli.allocator import tune_allocator

def rss_mb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024

applied = tune_allocator()
size = 16 * 2**20  # under the 32 MiB mmap threshold: from malloc's heap, kept there once freed

def on_thread():  # what the data thread does: arrays made, used and freed
    a = np.ones(size // 8)
    del a

thread = threading.Thread(target=on_thread)
thread.start()
thread.join()
before = rss_mb()
b = np.ones(size // 8)  # the main thread's next array of that size
print(json.dumps({"applied": applied, "grew_mb": rss_mb() - before}))
"""


def test_memory_a_thread_freed_is_reused_by_the_main_thread() -> None:
    # the data are read on a thread beside the imports (execution/read_ahead.py): with an arena of its own,
    # what the thread freed stays resident (the heap is kept: cli/allocator.py) and the main thread's next
    # arrays take new memory (the 1M-bar sweep's peak 313 -> 335 MB). One arena: the 16 MB are reused.
    got = fresh(ARENA_PROBE)
    assert got["applied"] is True
    grew = got["grew_mb"]
    assert isinstance(grew, float) and grew < 4, grew


MAPPED_PROBE = """
import json
import numpy as np
from trading_runtime.cli.allocator import large_blocks_mapped, tune_allocator

def rss_mb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024

def kept_after_free():  # what a 16 MB array made, used and freed leaves resident
    before = rss_mb()
    a = np.ones(2 * 2**20)
    del a
    return rss_mb() - before

applied = tune_allocator()
with large_blocks_mapped():
    mapped = kept_after_free()
heap = kept_after_free()
print(json.dumps({"applied": applied, "mapped": mapped, "heap": heap}))
"""


def test_large_blocks_freed_while_the_data_are_read_leave_no_memory_resident() -> None:
    # cli/allocator.py: the heap is kept (a 16 MB block freed stays resident, reused by the next run's arrays)
    # except while a sweep's data are read beside numba's kernels loading, when large blocks are mapped apart
    got = fresh(MAPPED_PROBE)
    assert got["applied"] is True
    mapped, heap = got["mapped"], got["heap"]
    assert isinstance(mapped, float) and isinstance(heap, float)
    assert mapped < 2, mapped  # returned to the OS when freed
    assert heap > 12, heap  # kept in the heap (the threshold is back after the with body)
