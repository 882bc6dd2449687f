#!/usr/bin/env bash
# Apply a namespace with its Pod Security labels and the executor RBAC (argo/namespace.yaml or, with
# --build, argo/namespace-build.yaml; argo/serviceaccount.yaml, role.yaml, rolebinding.yaml), with the
# placeholder namespace name replaced. Idempotent (kubectl apply).
# Usage: scripts/deploy-namespace.sh NAMESPACE [--build]
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:?usage: scripts/deploy-namespace.sh NAMESPACE [--build]}
case "$ns" in *[!a-z0-9-]*|-*|*-) echo "deploy-namespace: $ns: not a DNS label" >&2; exit 2 ;; esac
if [ "${2:-}" = --build ]; then
  sed "s/^  name: trading-runtime-build$/  name: $ns/" argo/namespace-build.yaml | kubectl apply -f -
else
  sed "s/^  name: trading-runtime$/  name: $ns/" argo/namespace.yaml | kubectl apply -f -
fi
kubectl apply -n "$ns" -f argo/serviceaccount.yaml -f argo/role.yaml
sed "s/^    namespace: trading-runtime$/    namespace: $ns/" argo/rolebinding.yaml | kubectl apply -n "$ns" -f -
