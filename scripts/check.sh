#!/usr/bin/env bash
# The test command: set up .venv from the locks, then lint, type-check, check layers, run the tests.
# Extra arguments go to pytest (e.g. scripts/check.sh -k store).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# System packages some tests use (no-ops when present): a PostgreSQL server for the Optuna RDB
# tests, Chromium for the report's browser test. Installing them needs root (or sudo).
scripts/install-postgres.sh
scripts/install-chromium.sh
export PYTHONHASHSEED=0
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== mypy" >&2
.venv/bin/mypy trading_runtime framework/trading_framework
echo "== import-linter" >&2
.venv/bin/lint-imports --no-cache
echo "== pytest" >&2
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "check: pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
