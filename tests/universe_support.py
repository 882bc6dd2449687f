"""Small universes of instruments for the tests, made from the committed bars (tests/data/parts/).

Three instruments of different character, each a transformation of the first ``rows`` committed bars:
``AAA`` the bars as they are, ``BBB`` the same bars at twice the price from a later start, ``CCC``
the bars mirrored (price 10,000 / p: the trend reversed; high and low swap).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import ROOT

SOURCE = ROOT / "tests" / "data" / "parts" / "synthetic_1m.csv"
SYMBOLS = ("AAA", "BBB", "CCC")


def instrument_frames(rows: int = 3000) -> dict[str, pd.DataFrame]:
    df = pd.read_csv(SOURCE)
    aaa = df.iloc[:rows].reset_index(drop=True)
    bbb = df.iloc[rows // 2: rows // 2 + rows].reset_index(drop=True)
    for col in ("open", "high", "low", "close"):
        bbb[col] = (bbb[col] * 2).round(2)
    ccc = aaa.copy()
    ccc["open"], ccc["close"] = (10_000 / aaa["open"]).round(4), (10_000 / aaa["close"]).round(4)
    ccc["high"], ccc["low"] = (10_000 / aaa["low"]).round(4), (10_000 / aaa["high"]).round(4)
    return {"AAA": aaa, "BBB": bbb, "CCC": ccc}


def write_universe(directory: Path, fmt: str = "csv", rows: int = 3000) -> dict[str, Path]:
    """One file per instrument ``<directory>/<symbol>.<fmt>``; {symbol: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for symbol, frame in instrument_frames(rows).items():
        path = directory / f"{symbol}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        out[symbol] = path
    return out


def write_long_format(path: Path, rows: int = 3000, column: str = "ticker") -> Path:
    """The universe as one long-format CSV: every instrument's rows with a ``column`` naming it."""
    frames = [frame.assign(**{column: symbol}) for symbol, frame in instrument_frames(rows).items()]
    pd.concat(frames).sort_values(["timestamp", column], kind="stable").to_csv(path, index=False)
    return path
