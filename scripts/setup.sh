#!/usr/bin/env bash
# Create .venv (if absent) and install the locked dev requirements (hashes required), then the
# framework (pinned per .env, see scripts/install-framework.sh) and the runtime without deps.
# Re-running is cheap: the lock install is skipped while requirements-dev.txt is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements-dev.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
scripts/install-framework.sh .venv/bin/python
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
