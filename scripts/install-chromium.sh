#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the report's browser test (tests/integration/test_report_browser.py).
# Installs only when /usr/bin/chromium is absent; needs root (CI runs as root). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
