#!/bin/sh
# The image build's fast checks, run in the build stage from /opt/trading-runtime (also the JIT
# warm-up: numba writes every kernel these runs compile to NUMBA_CACHE_DIR, which the runtime stage
# ships). 1. the CLI starts; 2. the local backtest matches its golden stats; 3. one backtest per
# shipped strategy (so each strategy's kernels are compiled); 4. the smoke experiment matches its
# golden summary (scripts/smoke.sh).
set -eu
work=$(mktemp -d "${TMPDIR:-/tmp}/image-checks.XXXXXX")
trap 'rm -rf "$work"' EXIT
trading-runtime --version
trading-runtime -q backtest --config trading_runtime/local/local.json --output-dir "$work/local" >/dev/null
# (validate reads store artifacts with completion markers, which backtest output folders lack: compare directly)
python3 - "$work/local/stats.json" tests/golden/cases/local_backtest/expected/stats.json <<'PY'
import json, sys
from trading_runtime.golden.compare import compare
actual, expected = (json.load(open(p)) for p in sys.argv[1:3])
lines = [d.line("stats.json") for d in compare(expected, actual)]
print("\n".join(lines) or "image-checks: local backtest stats.json matches golden", file=sys.stderr)
sys.exit(3 if lines else 0)
PY
for class_path in trading_runtime.strategies.rsi_reversion:RsiReversion \
                  trading_runtime.strategies.donchian_breakout:DonchianBreakout; do
  name=${class_path##*:}
  sed -e "s|\"class_path\": \"[^\"]*\"|\"class_path\": \"$class_path\"|" \
      -e 's|"params": {[^}]*}|"params": {}|' trading_runtime/local/local.json > "$work/$name.json"
  trading-runtime -q backtest --config "$work/$name.json" --output-dir "$work/$name" >/dev/null
done
smoke "$work/smoke"
echo "image-checks: ok" >&2
