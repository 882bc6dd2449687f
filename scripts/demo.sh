#!/usr/bin/env bash
# The demo: same setup as the tests, then on the embedded defaults (local store, local processes):
#  1. the local backtest, the seed command: rewrites the committed tests/data/results/ with the same bytes
#     (git status stays clean; prints its results folder and report.html),
#  2. the example experiment: SMA grid × walk-forward, sharded on a process pool (prints summary.json),
#  3. the example Optuna search: 40 trials in 5 generations (prints its results folder and report).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python trading_runtime/local/backtest.py --config trading_runtime/local/local.json
.venv/bin/trading-runtime sweep --config trading_runtime/local/sweep.json
.venv/bin/trading-runtime optimize --config trading_runtime/local/optimize.json
