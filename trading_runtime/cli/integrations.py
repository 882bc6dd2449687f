"""The optional integrations, switched on by the environment (only cli/ reads it).

- ``PROMETHEUS_PUSHGATEWAY_URL`` (e.g. ``http://pushgateway:9091``): run-shard and finalize push
  their metrics (runs done, failures, durations) at the end, failed or not.
- ``MLFLOW_TRACKING_URI`` (e.g. ``file:///mlruns``, ``http://mlflow:5000``): finalize logs one MLflow
  run per experiment (flattened config as params, headline metrics, report.html and summary.json as
  artifacts) into the MLflow experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``trading-runtime``).

Both are off when unset, and neither fails the step: errors are logged as warnings.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from trading_runtime.redaction import redact
from trading_runtime.store import ArtifactStore

if TYPE_CHECKING:  # imported where used, when an integration is on: run-shard's start-up does not pay for them
    from trading_runtime.fanin.documents import FanInDocument
    from trading_runtime.tracking import Sample

log = logging.getLogger(__name__)

PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY_URL"
MLFLOW_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_MLFLOW_EXPERIMENT = "trading-runtime"


def shard_samples(runs_done: int, runs_total: int, failed: bool, seconds: float) -> list[Sample]:
    from trading_runtime.tracking import Sample

    return [
        Sample("trading_runtime_shard_runs_done", runs_done, "Runs of the shard evaluated."),
        Sample("trading_runtime_shard_runs_total", runs_total, "Runs planned for the shard."),
        Sample("trading_runtime_shard_failures", int(failed), "1 when the shard failed, else 0."),
        Sample("trading_runtime_shard_duration_seconds", round(seconds, 3), "Wall time of run-shard."),
    ]


def finalize_samples(fanin: FanInDocument | None, failed: bool, seconds: float) -> list[Sample]:
    from trading_runtime.tracking import Sample

    out: list[Sample] = []
    if fanin is not None:
        for what, counts in (("runs", fanin.runs), ("shards", fanin.shards)):
            for state in ("expected", "completed", "failed", "missing"):
                out.append(Sample(f"trading_runtime_experiment_{what}", int(getattr(counts, state)),
                                  f"{what.capitalize()} of the experiment by state, at fan-in.",
                                  (("state", state),)))
    out += [Sample("trading_runtime_finalize_failures", int(failed), "1 when finalize failed, else 0."),
            Sample("trading_runtime_finalize_duration_seconds", round(seconds, 3), "Wall time of finalize.")]
    return out


def push_shard_metrics(experiment: str, shard: str, runs_done: int, runs_total: int, failed: bool,
                       seconds: float) -> bool | None:
    url = os.environ.get(PUSHGATEWAY_ENV)
    if not url:
        return None
    from trading_runtime.tracking import push_metrics

    return push_metrics(url, (("experiment", experiment), ("shard", shard)),
                        shard_samples(runs_done, runs_total, failed, seconds))


def push_finalize_metrics(experiment: str, fanin: FanInDocument | None, failed: bool, seconds: float) -> bool | None:
    url = os.environ.get(PUSHGATEWAY_ENV)
    if not url:
        return None
    from trading_runtime.tracking import push_metrics

    return push_metrics(url, (("experiment", experiment), ("step", "finalize")),
                        finalize_samples(fanin, failed, seconds))


def track_experiment(store: ArtifactStore, experiment_id: str) -> str | None:
    """Log the finalized experiment to MLflow when MLFLOW_TRACKING_URI is set; returns the MLflow run id."""
    uri = os.environ.get(MLFLOW_ENV)
    if not uri:
        return None
    name = os.environ.get(MLFLOW_EXPERIMENT_ENV) or DEFAULT_MLFLOW_EXPERIMENT
    try:
        from trading_runtime.planning.plan import identity_document
        from trading_runtime.report import load_experiment, render_report
        from trading_runtime.report.experiment import headline_metrics
        from trading_runtime.tracking import flatten_params, log_experiment_run

        results = load_experiment(store, experiment_id)
        params = flatten_params(identity_document(results.config))  # what decides results: stable per id
        params.update({"experiment_id": experiment_id, "config_sha256": results.plan.config_sha256,
                       "data_sha256": results.plan.data.sha256, "n_runs": str(len(results.plan.runs))})
        artifacts = {"report.html": render_report(results), "summary.json": results.summary_bytes}
        tags = {"trading_runtime.strategy": results.config.strategy.class_path,
                "trading_runtime.validation": results.config.validation.kind}
        return log_experiment_run(uri, name, experiment_id, params, headline_metrics(results), artifacts, tags)
    except Exception as e:  # tracking is optional: never fail the finalize that already succeeded
        log.warning("mlflow: could not log experiment %s to %s: %s: %s", experiment_id, redact(uri), type(e).__name__,
                    redact(str(e)), exc_info=log.isEnabledFor(logging.DEBUG))
        return None
