#!/usr/bin/env bash
# Lock requirements.txt, requirements-dev.txt and requirements-build.txt (the image's build backend;
# pinned, with hashes) with pip-tools.
# Usage: scripts/compile-requirements.sh [--upgrade]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/pip-compile ]; then
  [ -d .venv ] || "$PY" -m venv .venv
  .venv/bin/pip install --quiet pip-tools
fi
opts=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url
      --no-emit-find-links --no-emit-trusted-host --resolver=backtracking)
.venv/bin/pip-compile "${opts[@]}" "$@" --output-file requirements.txt requirements.in
.venv/bin/pip-compile "${opts[@]}" "$@" --output-file requirements-dev.txt requirements-dev.in
.venv/bin/pip-compile "${opts[@]}" "$@" --output-file requirements-build.txt requirements-build.in
echo "locked: requirements.txt requirements-dev.txt requirements-build.txt" >&2
