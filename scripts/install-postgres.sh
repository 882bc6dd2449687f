#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries when absent (the Optuna RDB tests start a throwaway
# server on 127.0.0.1 from them). Needs root; a no-op when /usr/lib/postgresql/*/bin/initdb exists.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-postgres: PostgreSQL server binaries are missing and installing them needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package may create and start a default cluster: the tests start their own, so stop it.
if command -v pg_ctlcluster >/dev/null; then
  for conf in /etc/postgresql/*/*; do
    [ -d "$conf" ] || continue
    pg_ctlcluster "$(basename "$(dirname "$conf")")" "$(basename "$conf")" stop 2>/dev/null || true
  done
fi
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
  echo "install-postgres: initdb still missing after installing postgresql" >&2
  exit 1
}
