#!/usr/bin/env bash
# Install trading-framework pinned, as .env says (defaults from .env.example):
#   TRADING_FRAMEWORK_REPO set   -> pip install git+$REPO@$TRADING_FRAMEWORK_COMMIT#subdirectory=framework
#   else, TRADING_FRAMEWORK_COMMIT set -> framework/ as it is at that commit of this repository
#   else                         -> framework/ of this checkout, editable (development)
# Usage: scripts/install-framework.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
env_file=.env
[ -f "$env_file" ] || env_file=.env.example
# Read only the two keys (the file is not sourced: it may hold secrets for other tools).
val() { grep -E "^$1=" "$env_file" | tail -n1 | cut -d= -f2- | tr -d '"'"'" || true; }
repo=${TRADING_FRAMEWORK_REPO-$(val TRADING_FRAMEWORK_REPO)}
commit=${TRADING_FRAMEWORK_COMMIT-$(val TRADING_FRAMEWORK_COMMIT)}
pip=("$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation)
if [ -n "$repo" ]; then
  [ -n "$commit" ] || { echo "install-framework: TRADING_FRAMEWORK_REPO is set but TRADING_FRAMEWORK_COMMIT is empty ($env_file)" >&2; exit 2; }
  "${pip[@]}" --force-reinstall "git+${repo}@${commit}#subdirectory=framework"
elif [ -n "$commit" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  git archive "$commit" framework | tar -x -C "$tmp" \
    || { echo "install-framework: commit $commit not found in this repository ($env_file)" >&2; exit 2; }
  "${pip[@]}" --force-reinstall "$tmp/framework"
else
  "${pip[@]}" -e framework
fi
