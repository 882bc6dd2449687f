#!/bin/sh
# The smoke experiment: sweep the synthetic walk-forward example (trading_runtime/local/sweep.json)
# into a fresh store and validate its summary against the golden files. Run from a folder holding
# trading_runtime/local/, tests/data/parts/ and tests/golden/cases/ — the repository root, or the
# image's working directory (/opt/trading-runtime), where the image build and CI run it.
# Usage: scripts/smoke.sh [STORE_DIR]   (default: a new temporary folder, removed afterwards)
# Exit: 0 match · 3 golden mismatch · anything else: the failing step's code.
set -eu
config=trading_runtime/local/sweep.json
golden=${SMOKE_GOLDEN:-tests/golden/cases/sweep_walk_forward/expected}
cli=${TRADING_RUNTIME:-trading-runtime}
if [ -n "${1:-}" ]; then
  store=$1
else
  store=$(mktemp -d "${TMPDIR:-/tmp}/smoke.XXXXXX")
  trap 'rm -rf "$store"' EXIT
fi
[ -d "$golden" ] || { echo "smoke: golden folder $golden not found" >&2; exit 2; }
summary=$($cli --log-format json -q sweep --config "$config" --store "$store" --workers 1)
echo "smoke: summary $summary" >&2
experiment=$(basename "$(dirname "$summary")")
$cli validate --store "$store" --experiment "$experiment" --golden "$golden"
