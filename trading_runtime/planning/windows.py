"""The windows a validation scheme cuts from the bars: segments (scored bars after their warm-up) and folds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from trading_runtime.errors import InputError

NS = 1_000_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Segment(_Frozen):
    """Bars ``start:stop`` are scored; ``warmup_start:start`` only warm the indicators up."""

    warmup_start: int
    start: int
    stop: int
    start_ts: int
    stop_ts: int  # timestamp of the last scored bar


class Fold(_Frozen):
    id: str
    in_sample: Segment
    out_of_sample: Segment | None = None
    instrument: str | None = None
    """The instrument whose bars the fold cuts (a universe; its id is then ``<symbol>.<scheme's id>``); left out
    of the JSON for one instrument."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if dumped.get("instrument") is None:
            dumped.pop("instrument", None)
        return dumped


def segment(ts: npt.NDArray[np.int64], start: int, stop: int, warmup: int) -> Segment:
    return Segment(warmup_start=max(0, start - warmup), start=start, stop=stop,
                   start_ts=int(ts[start]), stop_ts=int(ts[stop - 1]))


def parse_ts(text: str, where: str, source: str) -> int:
    """Epoch nanoseconds of an ISO 8601 date or time (UTC when it names no zone)."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{source}: {where}: expected an ISO 8601 date or time (got \"{text}\")") from None
    if dt.tzinfo is None:
        from datetime import UTC
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000
