#!/usr/bin/env bash
# The demo: same setup as the tests, then the local backtest on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python trading_runtime/local/backtest.py --config trading_runtime/local/local.json
