#!/usr/bin/env bash
# Create or update, idempotently, the namespace and the two Secrets the templates use:
#   ghcr-secret         kubernetes.io/dockerconfigjson for ghcr.io, from GHCR_USER / GHCR_TOKEN
#   trading-runtime-s3  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION,
#                       from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY / S3_ENDPOINT_URL / S3_REGION
# Every object goes through `kubectl create --dry-run=client -o yaml | kubectl apply -f -`, so a rerun
# updates instead of failing. Secret values travel in files readable only by this user, never argv.
# Usage: scripts/deploy-secrets.sh NAMESPACE
set -euo pipefail
ns=${1:?usage: scripts/deploy-secrets.sh NAMESPACE}
: "${GHCR_USER:?}" "${GHCR_TOKEN:?}" "${S3_ACCESS_KEY_ID:?}" "${S3_SECRET_ACCESS_KEY:?}"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -

auth=$(printf '%s:%s' "$GHCR_USER" "$GHCR_TOKEN" | base64 | tr -d '\n')
printf '{"auths":{"ghcr.io":{"auth":"%s"}}}\n' "$auth" > "$tmp/dockerconfig.json"
kubectl create secret generic ghcr-secret -n "$ns" --type=kubernetes.io/dockerconfigjson \
  --from-file=.dockerconfigjson="$tmp/dockerconfig.json" --dry-run=client -o yaml | kubectl apply -f -

{
  printf 'AWS_ACCESS_KEY_ID=%s\n' "$S3_ACCESS_KEY_ID"
  printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$S3_SECRET_ACCESS_KEY"
  printf 'AWS_DEFAULT_REGION=%s\n' "${S3_REGION:-us-east-1}"
  [ -z "${S3_ENDPOINT_URL:-}" ] || printf 'AWS_ENDPOINT_URL=%s\n' "$S3_ENDPOINT_URL"
} > "$tmp/s3.env"
kubectl create secret generic trading-runtime-s3 -n "$ns" --from-env-file="$tmp/s3.env" \
  --dry-run=client -o yaml | kubectl apply -f -
