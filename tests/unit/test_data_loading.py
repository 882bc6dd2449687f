"""load_bars: bar files → Bars; every bad input is an InputError with one exact line per problem."""

from __future__ import annotations

import gzip
import hashlib
import string
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.data.scripts import synthetic
from trading_framework import Bars
from trading_runtime.data import LoadedBars, ReadOptions, infer_format, load_bars
from trading_runtime.data._problems import ProblemReport
from trading_runtime.errors import EXIT_INPUT, InputError

BARS_DIR = Path(__file__).resolve().parents[1] / "data" / "parts"
CSV = BARS_DIR / "synthetic_1m.csv"
PARQUET = BARS_DIR / "synthetic_1m.parquet"
HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2024-01-01T00:00:00Z,100.0,101.0,99.5,100.5,10",
    "2024-01-01T00:01:00Z,100.5,102.0,100.0,101.0,12",
    "2024-01-01T00:02:00Z,101.0,101.5,100.5,101.2,9",
]
T0 = 1704067200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000


def write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    """The lines of the InputError that loading ``path`` raises, named ``bars.csv``."""
    kwargs.setdefault("display_name", "bars.csv")
    with pytest.raises(InputError) as caught:
        load_bars(path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == EXIT_INPUT
    assert str(caught.value) == "\n".join(caught.value.lines)
    return list(caught.value.lines)


def assert_same_bars(a: Bars, b: Bars) -> None:
    for column in ("ts", "open", "high", "low", "close", "volume"):
        x, y = getattr(a, column), getattr(b, column)
        assert x.dtype == y.dtype, column
        np.testing.assert_array_equal(x, y, err_msg=column)


# -- happy paths ----------------------------------------------------------------------------------


def test_committed_csv_and_parquet_load_to_identical_bars() -> None:
    from_csv, from_parquet = load_bars(CSV), load_bars(PARQUET)
    assert_same_bars(from_csv.bars, from_parquet.bars)
    assert_same_bars(from_csv.bars, Bars(**synthetic.generate(20_160, 7)))
    assert from_csv.sha256 == hashlib.sha256(CSV.read_bytes()).hexdigest()
    assert from_parquet.sha256 == hashlib.sha256(PARQUET.read_bytes()).hexdigest()
    assert (from_csv.n_rows, from_csv.file_rows, from_csv.fmt, from_csv.path) == (20_160, 20_160, "csv", CSV)
    assert (from_parquet.fmt, from_parquet.path) == ("parquet", PARQUET)
    assert from_csv.bars.ts[0] == T0 and from_csv.bars.ts[-1] == T0 + 20_159 * MINUTE


def test_start_is_inclusive_and_end_exclusive() -> None:
    day = load_bars(CSV, None, "2024-01-03", "2024-01-04")
    assert (day.n_rows, day.file_rows) == (1440, 20_160)
    assert day.bars.ts[0] == T0 + 2 * 1440 * MINUTE
    assert day.bars.ts[-1] == T0 + 3 * 1440 * MINUTE - MINUTE
    # offsets convert to UTC, naive is UTC; either bound may be open
    same = load_bars(PARQUET, None, "2024-01-03T01:00:00+01:00", "2024-01-04T00:00:00Z")
    assert_same_bars(day.bars, same.bars)
    assert load_bars(CSV, None, "2024-01-14T23:58:00Z", None).n_rows == 2
    assert load_bars(CSV, None, None, "2024-01-01T00:03:00").n_rows == 3


def test_digest_is_of_the_file_bytes_also_when_compressed(tmp_path: Path) -> None:
    raw = CSV.read_bytes()
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(raw, mtime=0))
    loaded = load_bars(packed)
    assert loaded.sha256 == hashlib.sha256(packed.read_bytes()).hexdigest() != hashlib.sha256(raw).hexdigest()
    assert_same_bars(loaded.bars, load_bars(CSV).bars)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.CSV", "csv"), ("a.csv.gz", "csv"), ("a.parquet", "parquet"), ("a.pq", "parquet")],
)
def test_format_from_the_suffix(name: str, fmt: str) -> None:
    assert infer_format(Path(name)) == fmt


def test_format_inferred_when_loading_and_explicit_format_wins(tmp_path: Path) -> None:
    pq_copy = tmp_path / "bars.pq"
    pq_copy.write_bytes(PARQUET.read_bytes())
    assert load_bars(pq_copy).fmt == "parquet"
    odd = tmp_path / "bars.data"
    odd.write_bytes(PARQUET.read_bytes())
    assert load_bars(odd, "parquet").n_rows == 20_160
    assert problems(odd) == [
        "bars.csv: cannot tell the format from the file name (expected a suffix .csv, .csv.gz, .parquet, .pq)"
    ]


def test_timestamps_with_offsets_become_utc_and_ts_column_is_epoch_ns(tmp_path: Path) -> None:
    rows = [
        "2024-01-01T01:00:00+01:00,100.0,101.0,99.5,100.5,10",
        "2023-12-31T19:01:00-05:00, 100.5 ,102.0,100.0,101.0,12",
        " 2024-01-01T00:02:00.000Z ,101.0,101.5,100.5,101.2,9",
    ]
    loaded = load_bars(write(tmp_path, rows))
    assert loaded.bars.ts.tolist() == [T0, T0 + MINUTE, T0 + 2 * MINUTE]
    assert loaded.bars.open.tolist() == [100.0, 100.5, 101.0]
    ts_rows = [f"{T0 + i * MINUTE},{row.split(',', 1)[1]}" for i, row in enumerate(GOOD)]
    by_ts = load_bars(write(tmp_path, ts_rows, header=HEADER.replace("timestamp", "ts"), name="ts.csv"))
    assert_same_bars(by_ts.bars, load_bars(write(tmp_path, GOOD)).bars)


def test_extra_columns_and_column_order_do_not_matter(tmp_path: Path) -> None:
    header = "symbol,volume,close,low,high,open,timestamp\n"
    rows = [",".join(["X", *reversed(row.split(","))]) for row in GOOD]
    shuffled = load_bars(write(tmp_path, rows, header=header))
    assert_same_bars(shuffled.bars, load_bars(write(tmp_path, GOOD, name="g.csv")).bars)


def test_parquet_with_utc_timestamp_string_or_integer_time(tmp_path: Path) -> None:
    values = {c: pa.array([100.0, 100.5]) for c in ("open", "high", "low", "close", "volume")}
    ns = [T0, T0 + MINUTE]
    tokyo_us = pa.array([t // 1000 for t in ns], pa.timestamp("us", "Asia/Tokyo"))
    int_values = {c: pa.array([100, 100], pa.int32()) for c in values}
    tables = {
        "tz.parquet": pa.table({"timestamp": tokyo_us, **values}),
        "text.parquet": pa.table({"timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"], **values}),
        "ts.parquet": pa.table({"ts": pa.array(ns, pa.int64()), **values}),
        "ints.parquet": pa.table({"ts": pa.array(ns, pa.int64()), **int_values}),
    }
    for name, table in tables.items():
        pq.write_table(table, tmp_path / name)
        loaded = load_bars(tmp_path / name)
        assert loaded.bars.ts.tolist() == ns, name
        assert loaded.bars.close.dtype == np.float64 and loaded.bars.close[0] == 100.0, name


def test_loaded_bars_is_what_the_runtime_imports() -> None:
    assert isinstance(load_bars(CSV, "csv", None, None, display_name="data.csv"), LoadedBars)


# -- file-level problems --------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert problems(missing) == ["bars.csv: file not found"]
    assert problems(missing, display_name=None) == [f"{missing}: file not found"]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "bars.csv"
    folder.mkdir()
    assert problems(folder) == ["bars.csv: expected a file (got a directory)"]


def test_binary_garbage_csv(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert problems(path) == ["bars.csv: cannot read CSV: not UTF-8 text (byte 0x89 at offset 0)"]


def test_nul_bytes_csv(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(HEADER.encode() + b"\x00\x01")
    assert problems(path) == ["bars.csv: cannot read CSV: binary data (NUL byte at offset 37)"]


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(b"")
    assert problems(path) == ["bars.csv: cannot read CSV: the file is empty"]


def test_rows_with_too_many_fields(tmp_path: Path) -> None:
    assert problems(write(tmp_path, [GOOD[0], GOOD[1] + ",7"])) == [
        "bars.csv: cannot read CSV: expected 6 fields in line 3, saw 7"
    ]
    assert problems(write(tmp_path, [GOOD[0] + ",7", GOOD[1]])) == [
        "bars.csv: cannot read CSV: expected 6 fields in line 2, saw 7"
    ]


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv.gz"
    path.write_bytes(gzip.compress(CSV.read_bytes(), mtime=0)[:500])
    assert problems(path) == [
        "bars.csv: cannot read CSV: corrupt gzip data "
        "(compressed file ended before the end-of-stream marker was reached)"
    ]


EXPECTED_LAYOUT = "(expected a time column (timestamp, datetime, date, time, ts or an unnamed first column), " \
    "open, high, low, close; "


def test_text_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("<html><body>502 Bad Gateway</body></html>\n")
    assert problems(path) == [
        "bars.csv: missing column(s) a time column, open, high, low, close "
        f"{EXPECTED_LAYOUT}found <html><body>502 Bad Gateway</body></html>)"
    ]


def test_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path, ["2024-01-01T00:00:00Z,1,1,1"], header="timestamp,open,high,low\n")
    assert problems(path) == [
        "bars.csv: missing column(s) close "
        f"{EXPECTED_LAYOUT}found timestamp, open, high, low)"
    ]
    path = write(tmp_path, ["2024-01-01T00:00:00Z,1,1,1,1"], header="Stamp,Open,High,Low,Clsoe\n")
    assert problems(path) == [
        "bars.csv: missing column(s) a time column, close "
        f"{EXPECTED_LAYOUT}found Stamp, Open, High, Low, Clsoe); closest to the time column: Stamp"
    ]


def test_duplicate_and_ambiguous_columns(tmp_path: Path) -> None:
    path = write(tmp_path, [], header="timestamp,ts,open,open,high,low,close,volume\n")
    assert problems(path) == [
        "bars.csv: columns open, open all name open (expected one)",
        "bars.csv: several time columns timestamp, ts (expected one)",
    ]


def test_header_only(tmp_path: Path) -> None:
    assert problems(write(tmp_path, [])) == ["bars.csv: no bars (the file has no data rows)"]


def test_no_bars_in_the_window(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, start="2024-02-01", end="2024-03-01") == [
        "bars.csv: no bars between 2024-02-01 and 2024-03-01"
    ]
    assert problems(path, start="2024-01-01T00:03:00Z") == [
        "bars.csv: no bars between 2024-01-01T00:03:00Z and the end of the file"
    ]
    assert problems(path, end="2024-01-01") == ["bars.csv: no bars between the start of the file and 2024-01-01"]


def test_bad_window_bounds(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, start="yesterday") == ['start: expected an ISO 8601 date or datetime (got "yesterday")']
    assert problems(path, end="2024-02-30") == ['end: expected an ISO 8601 date or datetime (got "2024-02-30")']
    assert problems(path, start="2024-01-02", end="2024-01-01") == [
        "start: expected a time before end 2024-01-01 (got 2024-01-02)"
    ]


def test_garbage_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    path.write_bytes(CSV.read_bytes()[:4096])
    lines = problems(path)
    assert len(lines) == 1 and lines[0].startswith("bars.csv: cannot read Parquet: "), lines


def test_parquet_column_types(tmp_path: Path) -> None:
    values = {c: pa.array([1.0]) for c in ("open", "high", "low", "close")}
    table = pa.table(
        {"timestamp": pa.array([1.5], pa.float64()), **values, "volume": pa.array([True])}
    )
    pq.write_table(table, tmp_path / "bars.parquet")
    assert problems(tmp_path / "bars.parquet") == [
        "bars.csv: timestamp: expected ISO 8601 text or timestamps (got double)",
        "bars.csv: volume: expected a column of numbers (got bool)",
    ]


# -- row problems (exact messages; row = 1-based data row = CSV line number - 1) -------------------


def test_nan_price(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], "2024-01-01T00:01:00Z,100.5,102.0,100.0,NaN,12", GOOD[2]])
    assert problems(path) == ["bars.csv: row 2: close: expected a finite price (got nan)"]


def test_unsorted_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[1], GOOD[0], GOOD[2]])
    assert problems(path) == [
        "bars.csv: row 2: timestamp: expected strictly increasing timestamps (earlier than the previous row) "
        "(got 2024-01-01T00:00:00Z)"
    ]


def test_duplicate_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], GOOD[1], GOOD[1].replace("101.0,12", "101.0,13")])
    assert problems(path) == [
        "bars.csv: row 3: timestamp: expected strictly increasing timestamps (duplicate of the previous row) "
        "(got 2024-01-01T00:01:00Z)"
    ]


def test_negative_price(tmp_path: Path) -> None:
    path = write(tmp_path, ["2024-01-01T00:00:00Z,100.0,101.0,-99.5,100.5,10", GOOD[1]])
    assert problems(path) == ["bars.csv: row 1: low: expected a price > 0 (got -99.5)"]


def test_high_below_low(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], "2024-01-01T00:01:00Z,100.5,100.0,102.0,101.0,12"])
    assert problems(path) == ["bars.csv: row 2: high: expected high >= low (got 100.0)"]


def test_high_below_close_and_negative_volume(tmp_path: Path) -> None:
    path = write(tmp_path, ["2024-01-01T00:00:00Z,100.0,101.0,99.5,101.5,-1"])
    assert problems(path) == [
        "bars.csv: row 1: volume: expected volume >= 0 (got -1.0)",
        "bars.csv: row 1: high: expected high >= max(open, close) (got 101.0)",
    ]


def test_bad_timestamp_text(tmp_path: Path) -> None:
    rows = [
        GOOD[0],
        "2024-01-01 00:01:00,100.5,102.0,100.0,101.0,12",  # no zone: UTC (data.timezone)
        "2024-13-01T00:02:00Z,101.0,101.5,100.5,101.2,9",
        "yesterday,101.0,101.5,100.5,101.2,9",
        "2300-01-01T00:00:00Z,101.0,101.5,100.5,101.2,9",
    ]
    iso = "expected an ISO 8601 date or timestamp"
    assert problems(write(tmp_path, rows)) == [
        f'bars.csv: 2 rows: timestamp: {iso} (got row 3: "2024-13-01T00:02:00Z", row 4: "yesterday")',
        'bars.csv: row 5: timestamp: expected a timestamp between 1677-09-22 and 2262-04-11 '
        '(got "2300-01-01T00:00:00Z")',
    ]


def test_bad_epoch_ns(tmp_path: Path) -> None:
    rows = [f"{T0},1,1,1,1,1", "1.7e18,1,1,1,1,1", "99999999999999999999,1,1,1,1,1"]
    path = write(tmp_path, rows, header=HEADER.replace("timestamp", "ts"))
    assert problems(path) == [
        'bars.csv: 2 rows: ts: expected integer epoch nanoseconds (got row 2: "1.7e18", row 3: '
        '"99999999999999999999")',
    ]


def test_non_numeric_price(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], "2024-01-01T00:01:00Z,1O0.5,102.0,100.0,,12", GOOD[2]])
    assert problems(path) == [
        'bars.csv: row 2: open: expected a number (got "1O0.5")',
        'bars.csv: row 2: close: expected a number (got "")',
    ]


def test_blank_line_is_one_problem_and_keeps_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], "", GOOD[1], "2024-01-01T00:01:30Z,1,1,1,x,1"])
    assert problems(path) == [
        "bars.csv: row 2: expected a bar (got an empty row)",
        'bars.csv: row 4: close: expected a number (got "x")',
    ]


def test_unreadable_cells_and_rule_violations_are_reported_together(tmp_path: Path) -> None:
    rows = [
        GOOD[0],
        "2024-01-01T00:00:00Z,nan,101.0,99.5,abc,-1",  # duplicate time, nan open, bad close, negative volume
        "2024-01-01T00:02:00Z,100.5,102.0,100.0,101.0,12",
        "2023-12-31T23:00:00Z,100.5,100.0,101.0,100.5,12",  # earlier than row 2, high < low
    ]
    assert problems(write(tmp_path, rows)) == [
        'bars.csv: row 2: close: expected a number (got "abc")',
        "bars.csv: row 2: timestamp: expected strictly increasing timestamps (duplicate of the previous row) "
        "(got 2024-01-01T00:00:00Z)",
        "bars.csv: row 2: open: expected a finite price (got nan)",
        "bars.csv: row 2: volume: expected volume >= 0 (got -1.0)",
        "bars.csv: row 4: timestamp: expected strictly increasing timestamps (earlier than the previous row) "
        "(got 2023-12-31T23:00:00Z)",
        "bars.csv: row 4: high: expected high >= low (got 100.0)",
    ]


def test_parquet_nulls_are_row_problems(tmp_path: Path) -> None:
    values = {c: pa.array([100.0, 100.0]) for c in ("open", "high", "low", "volume")}
    table = pa.table(
        {"timestamp": pa.array([T0, None], pa.timestamp("ns", "UTC")), **values, "close": pa.array([100.0, None])}
    )
    pq.write_table(table, tmp_path / "bars.parquet")
    assert problems(tmp_path / "bars.parquet") == [
        "bars.csv: row 2: timestamp: expected an ISO 8601 date or timestamp (got null)",
        "bars.csv: row 2: close: expected a number (got null)",
    ]


def test_many_problems_are_capped(tmp_path: Path) -> None:
    rows = [f"2024-01-01T00:{i:02d}:00Z,1,1,1,1,nan" for i in range(30)]
    # the same problem on many rows is one line: the count and the first rows
    assert problems(write(tmp_path, rows)) == [
        "bars.csv: 30 rows: volume: expected a finite volume (got row 1: nan, row 2: nan, row 3: nan, ...)"
    ]
    # different problems: at most 20 lines, then the count of the others
    report = ProblemReport("bars.csv")
    for i in range(25):
        report.rows(np.array([i, i + 30]), 0, "open", f"rule {i}", str)
    lines = report.lines()
    assert len(lines) == 21
    assert lines[0] == "bars.csv: 2 rows: open: expected rule 0 (got row 1: 0, row 31: 30)"
    assert lines[19] == "bars.csv: 2 rows: open: expected rule 19 (got row 20: 19, row 50: 49)"
    assert lines[20] == "bars.csv: ... and 5 more problems"


def test_long_and_odd_text_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], '2024-01-01T00:01:00Z,"' + "9" * 100 + 'x\ny",1,1,1,1'])
    lines = problems(path)
    assert lines == [f'bars.csv: row 2: open: expected a number (got "{"9" * 57}...")']


# -- never a traceback ----------------------------------------------------------------------------

CELL = st.sampled_from(["", "1", "-1", "nan", "inf", "1e400", "x", "2024-01-01T00:00:00Z", '"', " ", "\n"]) | st.text(
    alphabet=string.printable, max_size=8
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.permutations(["timestamp", "open", "high", "low", "close", "volume"]),
    rows=st.lists(st.lists(CELL, min_size=5, max_size=7), max_size=5),
)
def test_arbitrary_csv_gives_bars_or_input_error(tmp_path: Path, header: list[str], rows: list[list[str]]) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    try:
        loaded = load_bars(path)
    except InputError as error:
        assert error.lines and all(line and "\n" not in line for line in error.lines)
    else:
        assert len(loaded.bars) >= 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=200), cut=st.integers(min_value=0, max_value=5000))
def test_arbitrary_bytes_give_bars_or_input_error(tmp_path: Path, content: bytes, cut: int) -> None:
    for name, data in (("fuzz.csv", content), ("fuzz.parquet", content), ("cut.parquet", PARQUET.read_bytes()[:cut])):
        path = tmp_path / name
        path.write_bytes(data)
        try:
            load_bars(path)
        except InputError as error:
            assert error.lines and all(line and "\n" not in line for line in error.lines)


def test_times_without_a_zone_are_in_the_timezone(tmp_path: Path) -> None:
    rows = ["2024-03-10 01:30,1,1,1,1,1", "2024-03-10 02:30,1,1,1,1,1", "2024-03-10 03:30,1,1,1,1,1"]
    path = write(tmp_path, rows)
    # 02:30 does not exist in New York on 2024-03-10 (clocks jump from 02:00 to 03:00)
    assert problems(path, options=ReadOptions(timezone="America/New_York")) == [
        "bars.csv: row 2: timestamp: expected a time that exists once in America/New_York (daylight saving) "
        "(got 2024-03-10T02:30:00)"
    ]
    loaded = load_bars(write(tmp_path, [rows[0], rows[2]]), options=ReadOptions(timezone="America/New_York"),
                       start="2024-03-10T03:00")
    assert loaded.bars.ts.tolist() == [np.datetime64("2024-03-10T07:30", "ns").astype(np.int64)]


# -- issue 12 §1 rules not covered by the export round trips -----------------------------------------


@pytest.mark.parametrize(("unit", "per_ns"), [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)])
def test_integer_epoch_times_in_every_time_unit(tmp_path: Path, unit: str, per_ns: int) -> None:
    """data.time_unit s, ms, us, ns: the same instants written as integer counts of the unit, in a column
    named time (CSV) and timestamp (Parquet)."""
    counts = [T0 // per_ns, (T0 + MINUTE) // per_ns]
    rows = [f"{c},100.0,101.0,99.5,100.5,10" for c in counts]
    csv_path = write(tmp_path, rows, header="time,open,high,low,close,volume\n")
    values = {c: pa.array([100.0, 100.0]) for c in ("open", "high", "low", "close", "volume")}
    pq.write_table(pa.table({"timestamp": pa.array(counts, pa.int64()), **values}), tmp_path / "epoch.parquet")
    for path in (csv_path, tmp_path / "epoch.parquet"):
        loaded = load_bars(path, options=ReadOptions(time_unit=unit))  # type: ignore[arg-type]
        assert loaded.bars.ts.tolist() == [T0, T0 + MINUTE], path.name


def test_a_parquet_timestamp_column_without_a_zone_is_in_the_timezone(tmp_path: Path) -> None:
    """A naive timestamp column (not an index): its wall times are in data.timezone (UTC by default)."""
    values = {c: pa.array([100.0, 100.0]) for c in ("open", "high", "low", "close", "volume")}
    naive = pa.array([np.datetime64("2024-01-01T09:00", "us"), np.datetime64("2024-01-01T09:01", "us")],
                     pa.timestamp("us"))
    pq.write_table(pa.table({"timestamp": naive, **values}), tmp_path / "naive.parquet")
    assert load_bars(tmp_path / "naive.parquet").bars.ts.tolist() == [T0 + 540 * MINUTE, T0 + 541 * MINUTE]
    tokyo = load_bars(tmp_path / "naive.parquet", options=ReadOptions(timezone="Asia/Tokyo"))
    assert tokyo.bars.ts.tolist() == [T0, T0 + MINUTE]  # 09:00 in Tokyo (UTC+9) is 00:00Z


def test_drop_keeps_the_first_of_repeated_timestamps(tmp_path: Path) -> None:
    rows = [GOOD[0], GOOD[1],
            "2024-01-01T00:01:00Z,100.5,103.0,100.0,102.5,99",  # bar 1's time again, other prices: dropped
            GOOD[2]]
    loaded = load_bars(write(tmp_path, rows), options=ReadOptions(on_invalid="drop"))
    assert loaded.dropped == {"duplicate_timestamp": 1}
    assert loaded.bars.ts.tolist() == [T0, T0 + MINUTE, T0 + 2 * MINUTE]
    assert loaded.bars.close.tolist() == [100.5, 101.0, 101.2]  # the first bar at 00:01 (close 101.0) kept
    assert problems(write(tmp_path, rows, name="error.csv")) == [  # on_invalid "error", the default
        "bars.csv: row 3: timestamp: expected strictly increasing timestamps (duplicate of the previous row) "
        "(got 2024-01-01T00:01:00Z)"]
