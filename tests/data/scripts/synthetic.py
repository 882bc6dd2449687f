"""Seeded synthetic 1-minute OHLCV bars: geometric Brownian motion with Markov-switching volatility.

Model (every number below is a module constant):

- **Regimes.** A continuous-time-like Markov chain over three volatility levels (calm, normal,
  turbulent; ``REGIME_VOLS``, annualised). Each regime lasts a geometric number of minutes with mean
  ``REGIME_MEAN_MINUTES``, then jumps to another regime with the probabilities ``REGIME_EXIT``.
- **Prices.** Per-minute log return ``b = -s²/2 + s·z`` with ``s`` the regime's per-minute
  volatility and ``z`` standard normal (zero drift: the price is a martingale). ``open`` of a bar is
  the previous ``close`` (24/7 market, no gaps); the first open is ``START_PRICE``.
- **High / low.** Drawn exactly from the extremes of the Brownian bridge from ``open`` to ``close``
  in log space: ``max = (b + sqrt(b² - 2 s² ln U)) / 2``, ``min = (b - sqrt(b² - 2 s² ln V)) / 2``, so
  ``low <= min(open, close) <= max(open, close) <= high`` holds by construction.
- **Volume.** Lognormal noise times an intraday cycle (peak 14:00 UTC) times an activity factor
  that rises with the regime's volatility and the size of the bar's move; always > 0.
- **Rounding.** Prices are rounded to ``decimals`` (default 2), volume to ``VOLUME_DECIMALS``; after
  rounding, prices are clamped to one tick and ``high``/``low`` are re-extended over ``open``/``close``
  so that the OHLC rules still hold.

Randomness comes only from ``numpy.random.default_rng(seed)``, spawned into independent child
streams (regimes, returns, high/low, volume). The output is a pure function of
``(n_bars, seed, start, decimals)``; everything is vectorised except the regime chain, which loops
once per regime (about n_bars / 600 iterations), so a million bars take a fraction of a second.

CLI: ``python tests/data/scripts/synthetic.py --out tests/data/parts`` (re)writes the committed
``synthetic_1m.csv`` and ``synthetic_1m.parquet`` (14 days, seed 7). Writing is byte-reproducible:
fixed float formatting and ``\\n`` line endings for the CSV; fixed writer options, no pandas or
Arrow schema metadata and no timestamps for the Parquet file. The bytes also depend on the numpy
and pyarrow versions (NumPy only promises stable bit streams, not stable distributions), which is
why the files are committed and ``tests/unit/test_data_synthetic.py`` compares a regeneration with
them byte for byte.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MINUTE_NS = 60 * 10**9
MINUTES_PER_YEAR = 365 * 24 * 60

REGIME_VOLS = (0.35, 0.80, 1.80)
"""Annualised volatility of each regime: calm, normal, turbulent."""
REGIME_MEAN_MINUTES = (1440.0, 720.0, 180.0)
"""Mean time spent in each regime before switching, in minutes (1 day, 12 hours, 3 hours)."""
REGIME_EXIT = ((0.0, 0.8, 0.2), (0.7, 0.0, 0.3), (0.4, 0.6, 0.0))
"""REGIME_EXIT[i][j]: probability that regime i, when it ends, switches to regime j."""
INITIAL_REGIME = 0

START_PRICE = 100.0
PRICE_DECIMALS = 2
VOLUME_DECIMALS = 3
BASE_VOLUME = 25.0
"""Mean volume of a calm, quiet minute at the intraday average, in units."""

COMMITTED_SEED = 7
COMMITTED_DAYS = 14
COMMITTED_STEM = "synthetic_1m"
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")

FloatArray = npt.NDArray[np.float64]


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent child streams: regimes, returns, high/low, volume (in that order)."""
    return np.random.default_rng(seed).spawn(4)


def _regimes(rng: np.random.Generator, n_bars: int) -> npt.NDArray[np.int8]:
    states: list[int] = []
    lengths: list[int] = []
    state, total = INITIAL_REGIME, 0
    while total < n_bars:
        p_leave = 1.0 / REGIME_MEAN_MINUTES[state]
        u = float(rng.random())
        length = max(1, math.ceil(math.log1p(-u) / math.log1p(-p_leave)))
        states.append(state)
        lengths.append(length)
        total += length
        cumulative = np.cumsum(REGIME_EXIT[state])
        state = int(np.searchsorted(cumulative, float(rng.random()) * cumulative[-1], side="right"))
    return np.repeat(np.asarray(states, dtype=np.int8), lengths)[:n_bars]


def regime_path(n_bars: int, seed: int) -> npt.NDArray[np.int8]:
    """The regime index (0 calm, 1 normal, 2 turbulent) of each bar that ``generate`` uses."""
    _check_n(n_bars)
    return _regimes(_streams(seed)[0], n_bars)


def _start_ns(start: str) -> int:
    moment = datetime.fromisoformat(start)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)) * 1000


def _check_n(n_bars: int) -> None:
    if n_bars < 1:
        raise ValueError(f"n_bars must be >= 1, got {n_bars}")


def generate(
    n_bars: int, seed: int, start: str = "2024-01-01T00:00:00Z", *, decimals: int | None = PRICE_DECIMALS
) -> dict[str, npt.NDArray[Any]]:
    """``n_bars`` 1-minute bars from ``start``: keys ts (int64 UTC ns), open, high, low, close, volume (float64).

    ``decimals=None`` skips rounding (prices and volume keep full float precision). The result can
    be passed straight to ``trading_framework.Bars(**generate(...))``.
    """
    _check_n(n_bars)
    regime_rng, return_rng, bridge_rng, volume_rng = _streams(seed)
    regime = _regimes(regime_rng, n_bars)

    sigma = (np.asarray(REGIME_VOLS) / math.sqrt(MINUTES_PER_YEAR))[regime]
    z = return_rng.standard_normal(n_bars)
    step = sigma * z - 0.5 * sigma * sigma
    log_close = math.log(START_PRICE) + np.cumsum(step)
    log_open = np.empty(n_bars)
    log_open[0] = math.log(START_PRICE)
    log_open[1:] = log_close[:-1]

    u_high = 1.0 - bridge_rng.random(n_bars)  # in (0, 1]: log is finite
    u_low = 1.0 - bridge_rng.random(n_bars)
    two_var = 2.0 * sigma * sigma
    log_high = log_open + 0.5 * (step + np.sqrt(step * step - two_var * np.log(u_high)))
    log_low = log_open + 0.5 * (step - np.sqrt(step * step - two_var * np.log(u_low)))

    ts = _start_ns(start) + np.arange(n_bars, dtype=np.int64) * MINUTE_NS
    minute_of_day = (ts // MINUTE_NS) % 1440
    intraday = 1.0 + 0.35 * np.cos(2.0 * np.pi * (minute_of_day - 14 * 60) / 1440.0)
    activity = (sigma / sigma.min(initial=np.inf)) ** 0.7 * (1.0 + 0.6 * np.abs(z))
    noise = np.exp(0.5 * volume_rng.standard_normal(n_bars) - 0.125)
    volume = BASE_VOLUME * intraday * activity * noise

    open_, high, low, close = (np.exp(x) for x in (log_open, log_high, log_low, log_close))
    # exp may round a bridge extreme of 0 to a hair inside open/close: re-extend before and after rounding
    if decimals is not None:
        tick = 10.0**-decimals
        open_, high, low, close = (np.maximum(np.round(x, decimals), tick) for x in (open_, high, low, close))
        volume = np.maximum(np.round(volume, VOLUME_DECIMALS), 10.0**-VOLUME_DECIMALS)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    return {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def csv_bytes(data: dict[str, npt.NDArray[Any]], decimals: int = PRICE_DECIMALS) -> bytes:
    """The bars as CSV text: header ``timestamp,open,high,low,close,volume``, ISO 8601 UTC stamps, '\\n' endings."""
    ts = data["ts"]
    if np.any(ts % 10**9):
        raise ValueError("csv_bytes writes whole-second timestamps only")
    stamps = np.datetime_as_string(ts.astype("datetime64[ns]"), unit="s").tolist()
    price_fmt = f"{{:.{decimals}f}}"
    row_fmt = ",".join(["{}Z", price_fmt, price_fmt, price_fmt, price_fmt, f"{{:.{VOLUME_DECIMALS}f}}"]) + "\n"
    columns = [data[c].tolist() for c in ("open", "high", "low", "close", "volume")]
    body = "".join(row_fmt.format(t, *values) for t, *values in zip(stamps, *columns, strict=True))
    return (",".join(COLUMNS) + "\n" + body).encode("ascii")


def parquet_bytes(data: dict[str, npt.NDArray[Any]]) -> bytes:
    """The bars as Parquet: ``timestamp`` timestamp[ns, UTC], prices and volume double; fixed writer options."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "timestamp": pa.array(data["ts"], type=pa.timestamp("ns", tz="UTC")),
            **{c: pa.array(data[c], type=pa.float64()) for c in COLUMNS[1:]},
        }
    )
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        row_group_size=len(table),
        version="2.6",
        data_page_version="1.0",
        compression="zstd",
        compression_level=9,
        use_dictionary=False,
        column_encoding={"timestamp": "DELTA_BINARY_PACKED"},
        write_statistics=True,
        store_schema=False,
        write_page_index=False,
        write_page_checksum=False,
    )
    return buffer.getvalue()


def committed_files() -> dict[str, bytes]:
    """File name → bytes of the committed data set (14 days of 1-minute bars, seed 7)."""
    data = generate(COMMITTED_DAYS * 24 * 60, COMMITTED_SEED)
    return {f"{COMMITTED_STEM}.csv": csv_bytes(data), f"{COMMITTED_STEM}.parquet": parquet_bytes(data)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="directory to (re)write the committed files into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in committed_files().items():
        (args.out / name).write_bytes(content)
        print(f"{args.out / name}\t{len(content)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
