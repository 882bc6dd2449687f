#!/usr/bin/env bash
# The demo: same setup as the tests, then the local backtest on the embedded defaults, then the
# example Optuna search (40 trials in 5 generations; prints its results folder).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python trading_runtime/local/backtest.py --config trading_runtime/local/local.json
.venv/bin/trading-runtime optimize --config trading_runtime/local/optimize.json
