#!/usr/bin/env bash
# Print "FRAMEWORK_COMMIT FRAMEWORK_REPO" for an image build of runtime commit REVISION, from .env
# (else .env.example) as scripts/install-framework.sh reads it:
#   TRADING_FRAMEWORK_REPO set          -> that commit from that repository
#   only TRADING_FRAMEWORK_COMMIT set   -> that commit of this repository (SELF_REPO), unless it is REVISION
#   neither                             -> REVISION itself, from the build context (repository printed empty)
# Usage: scripts/framework-pin.sh REVISION SELF_REPO
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/framework-pin.sh REVISION SELF_REPO}
self=${2:?usage: scripts/framework-pin.sh REVISION SELF_REPO}
env_file=.env
[ -f "$env_file" ] || env_file=.env.example
val() { grep -E "^$1=" "$env_file" | tail -n1 | cut -d= -f2- | tr -d '"'"'" || true; }
repo=${TRADING_FRAMEWORK_REPO-$(val TRADING_FRAMEWORK_REPO)}
commit=${TRADING_FRAMEWORK_COMMIT-$(val TRADING_FRAMEWORK_COMMIT)}
if [ -z "$commit" ] || { [ -z "$repo" ] && [ "$commit" = "$rev" ]; }; then
  echo "$rev" ""
elif [ -n "$repo" ]; then
  echo "$commit" "$repo"
else
  echo "$commit" "$self"
fi
