"""The synthetic bars generator and the committed data it wrote (tests/data/parts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.data.scripts import synthetic
from trading_framework import Bars, validate_bars

BARS_DIR = Path(__file__).resolve().parents[1] / "data" / "parts"
REGENERATE = "python tests/data/scripts/synthetic.py --out tests/data/parts"
N_COMMITTED = 14 * 24 * 60


def test_regenerating_writes_the_committed_bytes(tmp_path: Path) -> None:
    assert synthetic.main(["--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["synthetic_1m.csv", "synthetic_1m.parquet"]
    for name in written:
        regenerated, committed = (tmp_path / name).read_bytes(), (BARS_DIR / name).read_bytes()
        assert regenerated == committed, (
            f"{name}: the generator no longer writes the committed bytes ({len(regenerated)} vs {len(committed)}"
            f" bytes). If the change is intended, run `{REGENERATE}` and review the golden results that use it."
        )


def test_writing_twice_gives_identical_bytes() -> None:
    data = synthetic.generate(500, 3)
    assert synthetic.csv_bytes(data) == synthetic.csv_bytes(synthetic.generate(500, 3))
    assert synthetic.parquet_bytes(data) == synthetic.parquet_bytes(synthetic.generate(500, 3))


def test_committed_csv_layout() -> None:
    content = (BARS_DIR / "synthetic_1m.csv").read_bytes()
    assert b"\r" not in content and content.endswith(b"\n")
    lines = content.decode("ascii").splitlines()
    assert len(lines) == 1 + N_COMMITTED
    assert lines[0] == "timestamp,open,high,low,close,volume"
    assert lines[1].startswith("2024-01-01T00:00:00Z,100.00,")
    assert lines[-1].startswith("2024-01-14T23:59:00Z,")
    assert (BARS_DIR / "synthetic_1m.csv").stat().st_size + (BARS_DIR / "synthetic_1m.parquet").stat().st_size <= 2**21


def test_generate_is_a_function_of_its_arguments() -> None:
    a, b, c = synthetic.generate(2000, 11), synthetic.generate(2000, 11), synthetic.generate(2000, 12)
    assert list(a) == ["ts", "open", "high", "low", "close", "volume"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["close"], c["close"])
    assert a["ts"].dtype == np.int64 and all(a[k].dtype == np.float64 for k in list(a)[1:])


def test_start_sets_the_first_timestamp_and_bars_are_one_minute_apart() -> None:
    ts = synthetic.generate(3, 1, start="2024-03-01T01:00:00+01:00")["ts"]
    assert ts.tolist() == [1709251200_000_000_000 + i * 60_000_000_000 for i in range(3)]  # 2024-03-01T00:00Z
    np.testing.assert_array_equal(synthetic.generate(3, 1, start="2024-03-01T00:00:00")["ts"], ts)


def test_rejects_no_bars() -> None:
    with pytest.raises(ValueError, match="n_bars must be >= 1"):
        synthetic.generate(0, 1)


@pytest.mark.parametrize("decimals", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("seed", [0, 7, 2024])
def test_bars_are_valid_at_every_rounding(seed: int, decimals: int | None) -> None:
    data = synthetic.generate(20_000, seed, decimals=decimals)
    assert validate_bars(Bars(**data)) == []
    assert np.all(data["volume"] > 0)
    for key in ("open", "high", "low", "close"):
        assert np.all(data[key] > 0)
        if decimals is not None:
            scaled = data[key] * 10**decimals
            np.testing.assert_allclose(scaled, np.round(scaled), rtol=0, atol=1e-6)
    # open is the previous close, also after rounding
    np.testing.assert_array_equal(data["open"][1:], data["close"][:-1])


def test_committed_bars_are_valid() -> None:
    assert validate_bars(Bars(**synthetic.generate(N_COMMITTED, synthetic.COMMITTED_SEED))) == []


def test_volatility_regimes_switch_and_show_in_the_prices() -> None:
    regime = synthetic.regime_path(N_COMMITTED, synthetic.COMMITTED_SEED)
    assert set(np.unique(regime).tolist()) == {0, 1, 2}
    assert np.count_nonzero(np.diff(regime)) >= 10

    data = synthetic.generate(N_COMMITTED, synthetic.COMMITTED_SEED, decimals=None)
    returns = np.log(data["close"] / data["open"])
    realised = [returns[regime == r].std() for r in range(3)]
    expected = np.asarray(synthetic.REGIME_VOLS) / np.sqrt(synthetic.MINUTES_PER_YEAR)
    np.testing.assert_allclose(realised, expected, rtol=0.1)

    # visible without the labels too: 4-hour rolling volatility of the committed (rounded) closes
    close = synthetic.generate(N_COMMITTED, synthetic.COMMITTED_SEED)["close"]
    r = np.diff(np.log(close))
    window = 240
    windows = np.lib.stride_tricks.sliding_window_view(r, window)
    rolling = windows.std(axis=1)
    assert rolling.max() / rolling.min() > 3.0


def test_million_bars_vectorised() -> None:
    data = synthetic.generate(1_000_000, 5)
    assert len(data["ts"]) == 1_000_000
    assert validate_bars(Bars(**data), limit=1) == []
