"""Optional integrations, each off unless configured: Prometheus Pushgateway metrics and MLflow tracking.

Neither reads the environment (``cli/`` does) and neither can fail a run: a push or a tracking
call that fails is logged as a warning. MLflow is imported only when tracking is configured.
"""

from trading_runtime.tracking.mlflow_tracking import flatten_params, log_experiment_run
from trading_runtime.tracking.pushgateway import Sample, exposition, push_metrics, pushgateway_path

__all__ = ["Sample", "exposition", "flatten_params", "log_experiment_run", "push_metrics", "pushgateway_path"]
