"""trading-runtime: deterministic backtests and parameter searches, locally and on Argo Workflows."""

__version__ = "0.1.0"
