"""``{"kind": "walk_forward"}``: rolling (or anchored) folds of train then test; in the summary each fold's
in-sample winner, the stitched out-of-sample equity (oos_equity.json) and the walk-forward efficiency.

Walk-forward efficiency = (pooled out-of-sample log growth per bar) / (pooled in-sample log growth per
bar) of the winners, null when the in-sample growth is not positive.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from trading_runtime.config.backtest import bars_per_year
from trading_runtime.config.experiment import Validation, WalkForwardValidation, duration_seconds
from trading_runtime.errors import InputError
from trading_runtime.planning.validation.scheme import SummaryInputs
from trading_runtime.planning.windows import NS, Fold, segment


def _log_growth(metrics: dict[str, Any] | None) -> float | None:
    if metrics is None or metrics.get("total_return") is None:
        return None
    g = 1.0 + float(metrics["total_return"])
    return math.log(g) if g > 0 else None


def stitched_metrics(equity: np.ndarray, initial_cash: float, bar_seconds: int,
                     override: float | None = None) -> dict[str, Any]:
    """total_return, sharpe (per-bar returns, ddof=1, annualised) and max_drawdown of a chained curve."""
    prev = np.concatenate(([initial_cash], equity[:-1]))
    r = equity / prev - 1.0
    std = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    sharpe = float(np.mean(r)) / std * math.sqrt(bars_per_year(bar_seconds, override)) if std > 0 else None
    peak = np.maximum.accumulate(np.concatenate(([initial_cash], equity)))[1:]
    mdd = float(np.max((peak - equity) / peak)) if len(equity) else 0.0
    return {"n_bars": len(equity), "final_equity": float(equity[-1]),
            "total_return": float(equity[-1] / initial_cash - 1.0), "sharpe": sharpe, "max_drawdown": mdd}


# Most walk-forward folds an experiment may have (fold ids wf-000 … wf-999 sort as text).
MAX_FOLDS = 1000


class WalkForwardScheme:
    kind = "walk_forward"

    def windows(self, validation: Validation, ts: npt.NDArray[np.int64], warmup: int, bar_seconds: int,
                source: str) -> list[Fold]:
        v = validation
        assert isinstance(v, WalkForwardValidation)
        n = len(ts)
        train = duration_seconds(v.train) * NS
        test = duration_seconds(v.test) * NS
        step = duration_seconds(v.step or v.test) * NS
        t0 = int(ts[warmup])
        data_end = int(ts[-1]) + bar_seconds * NS
        n_folds = (data_end - t0 - train - test) // step + 1
        if n_folds > MAX_FOLDS:
            raise InputError(f"{source}: validation: walk-forward train {v.train}, test {v.test}, "
                             f"step {v.step or v.test} makes {n_folds:,} folds on this data; at most {MAX_FOLDS:,} "
                             "(use a longer step)")
        folds = []
        for k in itertools.count():
            is_start_t = t0 if v.anchored else t0 + k * step
            is_end_t = t0 + k * step + train
            oos_end_t = is_end_t + test
            if oos_end_t > data_end:
                break
            i0, i1, i2 = (int(np.searchsorted(ts, t)) for t in (is_start_t, is_end_t, oos_end_t))
            if i0 < i1 < i2:
                folds.append(Fold(id=f"wf-{k:03d}", in_sample=segment(ts, i0, i1, warmup),
                                  out_of_sample=segment(ts, i1, i2, warmup)))
        if not folds:
            raise InputError(f"{source}: validation: walk-forward train {v.train} + test {v.test} does not fit the "
                             f"data after warm-up ({n - warmup} bars of {bar_seconds}s)")
        return folds

    def summary_section(self, inputs: SummaryInputs) -> tuple[dict[str, Any], dict[str, Any] | None]:
        cash = inputs.config.execution.initial_cash
        pieces: list[np.ndarray] = []
        ts_pieces: list[np.ndarray] = []
        fold_rows = []
        level = cash
        is_growth = oos_growth = 0.0
        is_bars = oos_bars = 0
        growth_defined = True
        for fold, best in inputs.winners:
            if best is None:
                fold_rows.append({"fold": fold.id, "run_id": None})
                growth_defined = False
                continue
            ts, eq = inputs.series[(best["run_id"], "out_of_sample")]
            pieces.append(eq * (level / cash))
            ts_pieces.append(ts)
            level = float(pieces[-1][-1])
            fold_rows.append({"fold": fold.id, "run_id": best["run_id"], "params": best["params"],
                              "in_sample": best["in_sample"], "out_of_sample": best["out_of_sample"]})
            gi, go = _log_growth(best["in_sample"]), _log_growth(best["out_of_sample"])
            if gi is None or go is None:
                growth_defined = False
            else:
                is_growth += gi
                oos_growth += go
                is_bars += fold.in_sample.stop - fold.in_sample.start
                assert fold.out_of_sample is not None
                oos_bars += fold.out_of_sample.stop - fold.out_of_sample.start
        wfe = None
        if growth_defined and is_bars and oos_bars and is_growth > 0:
            wfe = (oos_growth / oos_bars) / (is_growth / is_bars)
        stitched = None
        oos_doc = None
        if pieces:
            equity = np.concatenate(pieces)
            stitched = stitched_metrics(equity, cash, inputs.bar_seconds, inputs.config.data.bars_per_year)
            oos_doc = {"experiment_id": inputs.experiment_id, "initial_cash": cash,
                       "ts": np.concatenate(ts_pieces).tolist(), "equity": equity.tolist(),
                       "folds": [r.get("run_id") for r in fold_rows]}
        section = {"walk_forward": {"folds": fold_rows, "stitched_out_of_sample": stitched,
                                    "walk_forward_efficiency": wfe}}
        return section, oos_doc


SCHEME = WalkForwardScheme()
