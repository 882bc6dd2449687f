"""MLflow tracking of a finalized experiment: one MLflow run per experiment (params, metrics, artifacts).

Uses ``MlflowClient`` against an explicit tracking URI (no global MLflow state). The run is found
again by the tag ``trading_runtime.experiment_id``, so finalizing twice updates the same run.
``mlflow`` (the light ``mlflow-skinny`` distribution suffices) is imported only when called.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXPERIMENT_TAG = "trading_runtime.experiment_id"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value


def flatten_params(doc: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"a.b.c": "value"}``; lists become compact JSON; None becomes ``null``."""
    out: dict[str, str] = {}
    for key in sorted(doc):
        value = doc[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, name + "."))
        elif isinstance(value, str):
            out[name] = value[:MAX_PARAM_LENGTH]
        else:
            out[name] = json.dumps(value, sort_keys=True, separators=(",", ":"))[:MAX_PARAM_LENGTH]
    return out


def log_experiment_run(tracking_uri: str, experiment_name: str, experiment_id: str, params: Mapping[str, str],
                       metrics: Mapping[str, float], artifacts: Mapping[str, bytes],
                       tags: Mapping[str, str] | None = None) -> str:
    """Create or update the MLflow run of ``experiment_id``; returns the MLflow run id."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment_name)
    mlflow_experiment = found.experiment_id if found is not None else client.create_experiment(experiment_name)
    existing = client.search_runs([mlflow_experiment], filter_string=f"tags.`{EXPERIMENT_TAG}` = '{experiment_id}'",
                                  max_results=1)
    all_tags = {EXPERIMENT_TAG: experiment_id, **(tags or {})}
    if existing:
        run_id = str(existing[0].info.run_id)
        client.update_run(run_id, status="RUNNING")
    else:
        run_id = str(client.create_run(mlflow_experiment, run_name=experiment_id, tags=all_tags).info.run_id)
    now = int(time.time() * 1000)
    items = sorted(params.items())
    for i in range(0, max(len(items), 1), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, params=[Param(k, v) for k, v in items[i:i + 100]],
                         metrics=[Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())] if i == 0 else [],
                         tags=[RunTag(k, v) for k, v in sorted(all_tags.items())] if i == 0 else [])
    with tempfile.TemporaryDirectory(prefix="trading-runtime-mlflow-") as tmp:
        for name, data in sorted(artifacts.items()):
            path = Path(tmp) / name
            path.write_bytes(data)
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
    log.info("mlflow: logged experiment %s as run %s (%d params, %d metrics, %d artifacts) to %s", experiment_id,
             run_id, len(params), len(metrics), len(artifacts), tracking_uri, extra={"experiment": experiment_id})
    return run_id
