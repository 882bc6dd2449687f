"""``{"kind": "holdout"}``: in-sample, then out-of-sample from a fraction or a date; the in-sample best's
out-of-sample metrics in the summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from trading_runtime.config.experiment import HoldoutValidation, Validation
from trading_runtime.errors import InputError
from trading_runtime.planning.validation.scheme import SummaryInputs
from trading_runtime.planning.windows import Fold, parse_ts, segment


class HoldoutScheme:
    kind = "holdout"

    def windows(self, validation: Validation, ts: npt.NDArray[np.int64], warmup: int, bar_seconds: int,
                source: str) -> list[Fold]:
        v = validation
        assert isinstance(v, HoldoutValidation)
        n = len(ts)
        if v.test_fraction is not None:
            test_bars = math.floor((n - warmup) * v.test_fraction)
            split = n - test_bars
        else:
            assert v.test_start is not None
            split = int(np.searchsorted(ts, parse_ts(v.test_start, "validation.test_start", source)))
        if not warmup < split < n:
            raise InputError(f"{source}: validation: the holdout leaves no in-sample or no out-of-sample bars "
                             f"(split at bar {split} of {n}, first scored bar {warmup})")
        return [Fold(id="holdout", in_sample=segment(ts, warmup, split, warmup),
                     out_of_sample=segment(ts, split, n, warmup))]

    def summary_section(self, inputs: SummaryInputs) -> tuple[dict[str, Any], dict[str, Any] | None]:
        best = inputs.winners[0][1]
        holdout = None if best is None else {
            "best_run_id": best["run_id"], "params": best["params"],
            "in_sample": best["in_sample"], "out_of_sample": best["out_of_sample"]}
        return {"leaderboard": inputs.folds[0]["leaderboard"], "holdout": holdout}, None


SCHEME = HoldoutScheme()
