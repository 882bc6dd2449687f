#!/usr/bin/env bash
# The namespace a branch deploys to: prod for main; otherwise tr-<sanitised branch>-<8 hex of its
# sha256> (lowercase, [a-z0-9-] only, at most 63 characters; the hash keeps two branches that
# sanitise alike apart). Usage: scripts/branch-namespace.sh BRANCH
set -euo pipefail
branch=${1:?usage: scripts/branch-namespace.sh BRANCH}
if [ "$branch" = main ]; then echo prod; exit 0; fi
clean=$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9-' '-' | tr -s '-' | sed 's/^-*//; s/-*$//' | cut -c1-40)
clean=${clean%-}
hash=$(printf '%s' "$branch" | sha256sum | cut -c1-8)
echo "tr-${clean:+$clean-}$hash"
