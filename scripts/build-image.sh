#!/usr/bin/env bash
# Build the trading-runtime image with whichever of docker (with a reachable engine), podman or
# buildah is present, tagged by the commit SHA (<sha>-dirty when the work tree has changes), with its
# build args from .env (else .env.example) and git. Prints the image reference on stdout.
#
# Usage: scripts/build-image.sh [--image NAME] [--tool docker|podman|buildah] [--base IMAGE] [--push]
#                               [-- EXTRA BUILD-TOOL ARGS...]
#   --image NAME   repository to tag (default: $IMAGE, else trading-runtime), e.g. ghcr.io/OWNER/trading-runtime
#   --tool T       force a build tool (default: first present of docker, podman, buildah)
#   --base IMAGE   BASE_IMAGE build arg (default: the Dockerfile's official slim Python 3.11)
#   --push         push <image>:<sha> after the build
# Framework pin (as scripts/install-framework.sh): TRADING_FRAMEWORK_REPO set -> installed from git in
# the build; else TRADING_FRAMEWORK_COMMIT set (and not HEAD) -> framework/ at that commit is staged
# into a copy of the context; else framework/ of this checkout (stamped with HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-trading-runtime}
tool=""
base=""
push=0
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=$2; shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --push) push=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$tool" ]; then
  if command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    tool=docker
  elif command -v podman >/dev/null; then
    tool=podman
  elif command -v buildah >/dev/null; then
    tool=buildah
  else
    echo "build-image: no docker engine, podman or buildah found" >&2
    exit 2
  fi
fi

env_file=.env
[ -f "$env_file" ] || env_file=.env.example
# Read only the keys needed (the file is not sourced: it may hold secrets for other tools).
val() { grep -E "^$1=" "$env_file" | tail -n1 | cut -d= -f2- | tr -d '"'"'" || true; }
fw_repo=${TRADING_FRAMEWORK_REPO-$(val TRADING_FRAMEWORK_REPO)}
fw_commit=${TRADING_FRAMEWORK_COMMIT-$(val TRADING_FRAMEWORK_COMMIT)}

sha=$(git rev-parse HEAD)
tag=$sha
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
  tag=$sha-dirty
  echo "build-image: the work tree has uncommitted changes: tagging $tag" >&2
fi
[ -n "$fw_commit" ] || fw_commit=$sha
# https URL of origin without credentials (git@host:o/r.git -> https://host/o/r).
source_url=$(git remote get-url origin 2>/dev/null || true)
source_url=$(printf '%s' "$source_url" | sed -E -e 's#^git@([^:]+):#https://\1/#' -e 's#^ssh://git@#https://#' \
                                             -e 's#://[^/@]+@#://#' -e 's#\.git$##')
version=$(sed -n -E 's/^version = "([^"]+)"/\1/p' pyproject.toml | head -n1)
created=${CREATED:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}

context=.
if [ -z "$fw_repo" ] && [ "$fw_commit" != "$sha" ]; then
  # framework/ at the pinned commit of this repository, in a copy of the context.
  git cat-file -e "$fw_commit^{commit}" 2>/dev/null \
    || { echo "build-image: TRADING_FRAMEWORK_COMMIT=$fw_commit not found in this repository ($env_file)" >&2; exit 2; }
  context=.runtime/image-context
  rm -rf "$context" && mkdir -p "$context"
  git ls-files -z --cached --others --exclude-standard | xargs -0 -r cp --parents -t "$context" 2>/dev/null || true
  rm -rf "$context/framework" && mkdir -p "$context/framework"
  git archive "$fw_commit" framework | tar -x -C "$context"
  echo "$fw_commit" > "$context/framework/.pinned-commit"
  echo "build-image: framework/ staged at $fw_commit" >&2
fi

ref=$image:$tag
args=(--build-arg "TRADING_RUNTIME_COMMIT=$sha"
      --build-arg "TRADING_FRAMEWORK_COMMIT=$fw_commit"
      --build-arg "TRADING_FRAMEWORK_REPO=$fw_repo"
      --build-arg "SOURCE_URL=$source_url"
      --build-arg "VERSION=$version"
      --build-arg "CREATED=$created")
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")
echo "build-image: $tool building $ref (framework $fw_commit${fw_repo:+ from $fw_repo})" >&2
t0=$(date +%s)
case $tool in
  docker) docker build "${args[@]}" -f Dockerfile -t "$ref" "${extra[@]}" "$context" >&2 ;;
  podman) podman build --layers "${args[@]}" -f Dockerfile -t "$ref" "${extra[@]}" "$context" >&2 ;;
  buildah) buildah bud --layers "${args[@]}" -f Dockerfile -t "$ref" "${extra[@]}" "$context" >&2 ;;
  *) echo "build-image: unknown tool $tool" >&2; exit 2 ;;
esac
echo "build-image: built $ref in $(( $(date +%s) - t0 ))s" >&2
if [ "$push" = 1 ]; then
  "$tool" push "$ref" >&2
fi
echo "$ref"
