#!/usr/bin/env bash
# Bootstrap a dev container (devcontainer.json "postCreateCommand": "scripts/post-create.sh"):
# the system tools the checks use, .venv from the locks, .env from the example, then the fast checks.
# Safe to rerun. Set SKIP_IMAGE_TOOLS=1 to skip buildah/debootstrap (only the image build needs them).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
pkgs=(git)
[ "${SKIP_IMAGE_TOOLS:-0}" = 1 ] || pkgs+=(buildah debootstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -f .env ] || cp .env.example .env
scripts/setup.sh
.venv/bin/python -m tests.cluster.argo_check
echo "post-create: ready (scripts/check.sh runs the tests; scripts/ci-image-smoke.sh builds the image)" >&2
