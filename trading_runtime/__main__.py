"""``python -m trading_runtime``."""

from trading_runtime.cli.main import run

run()
