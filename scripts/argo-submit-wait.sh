#!/usr/bin/env bash
# Submit an Argo workflow, wait for it, and fail unless it Succeeded (printing its tree and the last
# log lines). Usage: scripts/argo-submit-wait.sh NAMESPACE FILE [argo submit args, e.g. -p k=v ...]
set -euo pipefail
ns=${1:?usage: scripts/argo-submit-wait.sh NAMESPACE FILE [-p k=v ...]}
file=${2:?usage: scripts/argo-submit-wait.sh NAMESPACE FILE [-p k=v ...]}
shift 2
name=$(argo submit -n "$ns" "$file" "$@" -o name)
echo "submitted $name ($file) in $ns" >&2
argo wait -n "$ns" "$name" >&2 || true
phase=$(kubectl get workflow -n "$ns" "$name" -o jsonpath='{.status.phase}')
echo "$name: $phase" >&2
if [ "$phase" != Succeeded ]; then
  argo get -n "$ns" "$name" >&2 || true
  argo logs -n "$ns" "$name" 2>&1 | tail -n 200 >&2 || true
  exit 1
fi
echo "$name"
