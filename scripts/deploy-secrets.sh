#!/usr/bin/env bash
# Create or update, idempotently, the Secrets of a namespace (made by scripts/deploy-namespace.sh):
#   ghcr-pull           kubernetes.io/dockerconfigjson for ghcr.io from GHCR_USER / GHCR_PULL_TOKEN, a
#                       token with read:packages only: the imagePullSecret of every pod
#   trading-runtime-s3  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION,
#                       from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY / S3_ENDPOINT_URL / S3_REGION
# With --build (the build namespace): ghcr-pull, and ghcr-push from GHCR_PUSH_TOKEN (write:packages),
# mounted by the kaniko pod only; no S3 secret.
# Every object goes through `kubectl create --dry-run=client -o yaml | kubectl apply -f -`, so a rerun
# updates instead of failing. Secret values travel in files readable only by this user, never argv.
# Usage: scripts/deploy-secrets.sh NAMESPACE [--build]
set -euo pipefail
ns=${1:?usage: scripts/deploy-secrets.sh NAMESPACE [--build]}
: "${GHCR_USER:?}" "${GHCR_PULL_TOKEN:?}"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

registry_secret() {  # NAME TOKEN
  auth=$(printf '%s:%s' "$GHCR_USER" "$2" | base64 | tr -d '\n')
  printf '{"auths":{"ghcr.io":{"auth":"%s"}}}\n' "$auth" > "$tmp/dockerconfig.json"
  kubectl create secret generic "$1" -n "$ns" --type=kubernetes.io/dockerconfigjson \
    --from-file=.dockerconfigjson="$tmp/dockerconfig.json" --dry-run=client -o yaml | kubectl apply -f -
}

registry_secret ghcr-pull "$GHCR_PULL_TOKEN"
if [ "${2:-}" = --build ]; then
  : "${GHCR_PUSH_TOKEN:?}"
  registry_secret ghcr-push "$GHCR_PUSH_TOKEN"
  exit 0
fi

: "${S3_ACCESS_KEY_ID:?}" "${S3_SECRET_ACCESS_KEY:?}"

{
  printf 'AWS_ACCESS_KEY_ID=%s\n' "$S3_ACCESS_KEY_ID"
  printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$S3_SECRET_ACCESS_KEY"
  printf 'AWS_DEFAULT_REGION=%s\n' "${S3_REGION:-us-east-1}"
  [ -z "${S3_ENDPOINT_URL:-}" ] || printf 'AWS_ENDPOINT_URL=%s\n' "$S3_ENDPOINT_URL"
} > "$tmp/s3.env"
kubectl create secret generic trading-runtime-s3 -n "$ns" --from-env-file="$tmp/s3.env" \
  --dry-run=client -o yaml | kubectl apply -f -
