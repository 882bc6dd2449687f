"""What a validation scheme provides: its windows (at planning) and its section of summary.json (at fan-in)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from trading_runtime.config.experiment import ExperimentConfig, Validation
from trading_runtime.planning.windows import Fold

# (run id, segment) -> (ts, equity): the curves finalize derived (each window's leaderboard, both segments).
Series = Mapping[tuple[str, str], tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]


@dataclass(frozen=True)
class SummaryInputs:
    """What fan-in hands a scheme: the ranked windows and the derived equity curves of their leaderboards."""

    experiment_id: str
    config: ExperimentConfig
    folds: list[dict[str, Any]]  # summary.json's "folds", in plan order
    winners: list[tuple[Fold, dict[str, Any] | None]]  # each window's best leaderboard row (None: nothing ranked)
    series: Series
    bar_seconds: int


class ValidationScheme(Protocol):
    kind: str  # the config's validation.kind

    def windows(self, validation: Validation, ts: npt.NDArray[np.int64], warmup: int, bar_seconds: int,
                source: str) -> list[Fold]:
        """The folds, in order; InputError naming ``source`` when the data cannot hold them."""
        ...

    def summary_section(self, inputs: SummaryInputs) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(keys added to summary.json, a further document such as oos_equity.json or None)."""
        ...
