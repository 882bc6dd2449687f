#!/usr/bin/env bash
# Build a minimal Debian root filesystem with Python 3 and venv (a local stand-in for the official
# slim Python image, for the offline image build in CI) and print the path of its tarball.
#
# The mirror and suite are read at run time from the apt sources this machine is configured with
# (/etc/apt/sources.list.d/*.sources in deb822 form, else /etc/apt/sources.list); nothing about a
# mirror is written into the project. Override with BASE_MIRROR / BASE_SUITE / BASE_KEYRING.
#
# The tarball is cached under .runtime/cache/base-rootfs/, keyed by mirror, suite, architecture and
# package list: a second run prints the cached path at once. Needs root and debootstrap.
#
# Usage: scripts/build-base-rootfs.sh [--print-key]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=python3,python3-venv
CACHE_DIR=${BASE_ROOTFS_CACHE:-.runtime/cache/base-rootfs}

# shellcheck source=/dev/null
codename() { . /etc/os-release && echo "${VERSION_CODENAME:-}"; }

# Print "URI SUITE KEYRING" of the first plain Debian source (not -security/-updates/-backports) for
# this machine's release, from deb822 files first, then one-line sources.list entries.
read_apt_source() {
  local want
  want=$(codename)
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$want" '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && uri != "" && enabled != "no") {
          n = split(suites, s, /[ \t]+/)
          for (i = 1; i <= n; i++) if (s[i] == want && comps ~ /(^|[ \t])main([ \t]|$)/) { print uri, s[i], key; found = 1; exit }
        }
        types = uri = suites = comps = key = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; sub(/^[ \t]+/, "", line)
        k = tolower(substr(line, 1, index(line, ":") - 1)); v = substr(line, index(line, ":") + 1); sub(/^[ \t]+/, "", v)
        if (k == "types") types = v
        else if (k == "uris") { split(v, u, /[ \t]+/); uri = u[1] }
        else if (k == "suites") suites = v
        else if (k == "components") comps = v
        else if (k == "signed-by") key = v
        else if (k == "enabled") enabled = tolower(v)
      }
      END { if (!found) flush() }
    ' "$f" | head -n1 | grep . && return 0
  done
  if [ -f /etc/apt/sources.list ]; then
    awk -v want="$want" '
      $1 == "deb" {
        i = 2; key = ""
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key) } i++ }
                          if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key); sub(/\]$/, "", key) } i++ }
        if ($(i + 1) == want) { print $i, $(i + 1), key; exit }
      }' /etc/apt/sources.list | grep . && return 0
  fi
  return 1
}

if [ -n "${BASE_MIRROR:-}" ]; then
  mirror=$BASE_MIRROR; suite=${BASE_SUITE:-$(codename)}; keyring=${BASE_KEYRING:-}
else
  src=$(read_apt_source) || { echo "build-base-rootfs: no Debian apt source for '$(codename)' found in /etc/apt (set BASE_MIRROR and BASE_SUITE)" >&2; exit 2; }
  read -r mirror suite keyring <<<"$src"
  suite=${BASE_SUITE:-$suite}; keyring=${BASE_KEYRING:-$keyring}
fi
[ -n "$suite" ] || { echo "build-base-rootfs: unknown Debian suite (set BASE_SUITE)" >&2; exit 2; }
arch=$(dpkg --print-architecture)
# The key names what the tarball holds; the mirror is part of it but never printed or stored in git.
key=$(printf '%s\n' "v1" "$mirror" "$suite" "$arch" "$PACKAGES" | sha256sum | cut -c1-16)
if [ "${1:-}" = "--print-key" ]; then
  echo "$suite-$arch-$key"
  exit 0
fi
out="$CACHE_DIR/$suite-$arch-$key.tar"
if [ -s "$out" ]; then
  echo "build-base-rootfs: cached $out" >&2
  echo "$out"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "build-base-rootfs: debootstrap not found (apt-get install debootstrap)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "build-base-rootfs: debootstrap needs root" >&2; exit 2; }

mkdir -p "$CACHE_DIR"
work=$(mktemp -d "$CACHE_DIR/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
opts=(--variant=minbase --components=main --include="$PACKAGES" --arch="$arch")
[ -n "$keyring" ] && [ -f "$keyring" ] && opts+=(--keyring="$keyring")
echo "build-base-rootfs: debootstrap $suite ($arch) with $PACKAGES" >&2
t0=$(date +%s)
if ! debootstrap "${opts[@]}" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  echo "build-base-rootfs: debootstrap failed" >&2
  exit 1
fi
# An image, not a machine: no package lists or caches, no machine id; python3 must run.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
: > "$root/etc/machine-id"
chroot "$root" python3 -c 'import ensurepip, sys, venv; print(sys.version.split()[0])' >&2
tar --numeric-owner --xattrs -C "$root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
echo "build-base-rootfs: $out ($(du -h "$out" | cut -f1), $(( $(date +%s) - t0 ))s)" >&2
echo "$out"
