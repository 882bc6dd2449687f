#!/bin/sh
# trading-runtime inside the image (installed first on PATH as /opt/trading-runtime/bin/trading-runtime).
# numba only uses a cache folder it can write to, and the root filesystem may be read-only: the
# kernels compiled at build time (/opt/trading-runtime/numba-cache) are copied once into the
# writable NUMBA_CACHE_DIR (an emptyDir in pods), then the real CLI runs with the same arguments.
set -eu
seed=/opt/trading-runtime/numba-cache
if [ -n "${NUMBA_CACHE_DIR:-}" ] && [ "$NUMBA_CACHE_DIR" != "$seed" ] && [ -d "$seed" ] \
   && [ ! -e "$NUMBA_CACHE_DIR/.seeded" ]; then
  if mkdir -p "$NUMBA_CACHE_DIR" 2>/dev/null && cp -R "$seed/." "$NUMBA_CACHE_DIR/" 2>/dev/null; then
    : > "$NUMBA_CACHE_DIR/.seeded"
  else
    echo "trading-runtime: NUMBA_CACHE_DIR=$NUMBA_CACHE_DIR is not writable: mount a writable volume there (numba caches compiled kernels only in a writable folder)" >&2
  fi
fi
exec /opt/venv/bin/trading-runtime "$@"
