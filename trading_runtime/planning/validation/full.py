"""``{"kind": "full"}``: one in-sample window over every bar after the warm-up; the summary's leaderboard."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from trading_runtime.config.experiment import Validation
from trading_runtime.planning.validation.scheme import SummaryInputs
from trading_runtime.planning.windows import Fold, segment


class FullScheme:
    kind = "full"

    def windows(self, validation: Validation, ts: npt.NDArray[np.int64], warmup: int, bar_seconds: int,
                source: str) -> list[Fold]:
        return [Fold(id="full", in_sample=segment(ts, warmup, len(ts), warmup))]

    def summary_section(self, inputs: SummaryInputs) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return {"leaderboard": inputs.folds[0]["leaderboard"]}, None


SCHEME = FullScheme()
