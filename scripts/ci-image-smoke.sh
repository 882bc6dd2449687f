#!/usr/bin/env bash
# The real image build, offline from any image registry (run by .ci/run; a few minutes):
#  1. buildah and debootstrap installed when absent (Debian packages);
#  2. a local Python 3.11 base image: a minimal Debian rootfs (scripts/build-base-rootfs.sh, cached
#     under .runtime/cache/) imported into buildah's storage once per cache key;
#  3. the project's Dockerfile built on it (scripts/build-image.sh --base …), tagged by commit SHA;
#  4. the OCI labels and the non-root user checked;
#  5. the smoke experiment run inside the image as uid 10001 with `buildah run`, validated against
#     golden (scripts/smoke.sh);
#  6. the smoke experiment again on a read-only root filesystem (the image's root bind-mounted
#     read-only, a tmpfs at /tmp, uid 10001), checking that numba loaded every kernel from the cache
#     warmed at build time instead of compiling.
# Needs root. Environment: STORAGE_DRIVER (default overlay), BUILDAH_ISOLATION (default chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)
log() { echo "ci-image-smoke: $*" >&2; }
phase_times=()
mark() { phase_times+=("$1 $(( $(date +%s) - t_phase ))s"); t_phase=$(date +%s); }
t_phase=$t_start

[ "$(id -u)" = 0 ] || { log "needs root (buildah storage, debootstrap, chroot)"; exit 2; }
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mark install
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

# Warm pip's HTTP cache (mounted into the build) with the locked wheels while the base is prepared.
mkdir -p .runtime/cache/pip
prefetch_dir=$(mktemp -d)
python3 -m pip download --quiet --disable-pip-version-check --cache-dir .runtime/cache/pip --no-deps \
  --require-hashes -r requirements.txt -r requirements-build.txt -d "$prefetch_dir" >/dev/null 2>&1 &
prefetch=$!

# -- 2. base image, once per cache key
key=$(scripts/build-base-rootfs.sh --print-key)
base=localhost/trading-runtime-base:$key
if buildah inspect --type image "$base" >/dev/null 2>&1; then
  log "base image $base (cached)"
else
  tarball=$(scripts/build-base-rootfs.sh)
  ctr=$(buildah from scratch)
  buildah add "$ctr" "$tarball" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                 --env LANG=C.UTF-8 --cmd python3 "$ctr"
  buildah commit --rm -q "$ctr" "$base" >/dev/null
  log "base image $base imported from $tarball"
fi
mark base

# -- 3. the project's image. The build reaches the package index as this machine does: its CA bundle
# and index URL (read at run time, never written into the project) are mounted for the build only.
conf=.runtime/cache/image-build
mkdir -p "$conf"
build_args=(-v "$PWD/.runtime/cache/pip:/root/.cache/pip")
{
  echo "[global]"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    echo "cert = /etc/ssl/certs/build-host-ca.crt"
    build_args+=(-v "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/build-host-ca.crt:ro")
  fi
  index=$(python3 -m pip config get global.index-url 2>/dev/null || true)
  case $index in http://*|https://*) echo "index-url = $index" ;; esac
} > "$conf/pip.conf"
build_args+=(-v "$PWD/$conf/pip.conf:/etc/pip.conf:ro")
wait "$prefetch" || log "prefetch of the locked wheels failed: the build downloads them"
rm -rf "$prefetch_dir"
mark prefetch
image=$(scripts/build-image.sh --tool buildah --base "$base" --image localhost/trading-runtime -- "${build_args[@]}")
log "built $image"
mark build

# -- 4. labels and user
sha=$(git rev-parse HEAD)
revision=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.revision"}}' "$image")
framework=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "trading-runtime.framework.commit"}}' "$image")
user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
entrypoint=$(buildah inspect --type image --format "{{.OCIv1.Config.Entrypoint}}" "$image")
[ "$revision" = "$sha" ] || { log "label org.opencontainers.image.revision is '$revision', expected $sha"; exit 1; }
[ -n "$framework" ] || { log "label trading-runtime.framework.commit is empty"; exit 1; }
[ "$user" = "10001:10001" ] || { log "image user is '$user', expected 10001:10001"; exit 1; }
[ "$entrypoint" = "[trading-runtime]" ] || { log "entrypoint is $entrypoint, expected [trading-runtime]"; exit 1; }
log "labels: revision $revision, framework $framework; user $user; entrypoint $entrypoint"

# -- 5. the smoke experiment inside the image, non-root
ctr=$(buildah from -q "$image")
cleanup() { buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# shellcheck disable=SC2016  # expanded inside the container
buildah run --user 10001:10001 "$ctr" -- sh -c '[ "$(id -u)" = 10001 ] && smoke'
log "smoke in the image as uid 10001: ok"
mark smoke

# -- 6. again on a read-only root filesystem, from the warmed JIT cache
root=$(buildah mount "$ctr")
mapfile -t image_env < <(buildah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$image" | grep .)
workdir=$(buildah inspect --type image --format '{{.OCIv1.Config.WorkingDir}}' "$image")
out=$(mktemp)
# shellcheck disable=SC2016  # expanded by the inner shell
unshare --mount --fork sh -eu -c '
  root=$1; out=$2; workdir=$3; shift 3
  new=$(mktemp -d)
  mount --bind "$root" "$new"
  mount -o remount,bind,ro "$new"
  mount -t tmpfs -o mode=1777 tmpfs "$new/tmp"
  mount --rbind /dev "$new/dev"
  mount -t proc proc "$new/proc"
  if touch "$new/opt/probe" 2>/dev/null; then echo "root filesystem is writable" >&2; exit 1; fi
  exec chroot --userspec=10001:10001 "$new" env -i "$@" NUMBA_DEBUG_CACHE=1 sh -c "cd $workdir && smoke" >"$out" 2>&1
' sh "$root" "$out" "$workdir" "${image_env[@]}" || { tail -n 40 "$out" >&2; log "read-only smoke failed"; exit 1; }
loaded=$(grep -c "data loaded from" "$out" || true)
saved=$(grep -c "data saved to" "$out" || true)
grep -E "^validate:" "$out" >&2 || true
rm -f "$out"
if [ "$loaded" -eq 0 ] || [ "$saved" -ne 0 ]; then
  log "JIT cache: $loaded kernel(s) loaded, $saved compiled at run time (expected all loaded, none compiled)"
  exit 1
fi
log "smoke on a read-only root as uid 10001: ok; JIT cache: $loaded kernel(s) loaded, none compiled"
mark readonly

log "passed in $(( $(date +%s) - t_start ))s (${phase_times[*]})"
