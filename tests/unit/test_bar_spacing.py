"""bar_spacing: the most common spacing between bars and its count (the even case takes a shortcut)."""

from __future__ import annotations

import numpy as np
import pytest

from trading_runtime.execution.data_source import bar_spacing

M = 60_000_000_000  # one minute in ns


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ([0], None),
        ([0, M], (M, 1)),
        ([0, M, 2 * M, 3 * M], (M, 3)),  # evenly spaced: the shortcut
        ([0, M, 2 * M, 4 * M, 5 * M], (M, 3)),  # one gap of two minutes
        ([0, 2 * M, 4 * M, 5 * M], (2 * M, 2)),  # the most common is not the shortest
        ([0, M, 3 * M, 4 * M, 6 * M], (M, 2)),  # equally common: the shortest
        ([0, 5 * M, 10 * M, 10 * M + 1], (5 * M, 2)),
    ],
)
def test_bar_spacing(ts: list[int], expected: tuple[int, int] | None) -> None:
    got = bar_spacing(np.array(ts, dtype=np.int64))
    assert got == expected
    if got is not None:
        assert type(got[0]) is int and type(got[1]) is int
