#!/usr/bin/env bash
# System packages the tests need: MariaDB, Redis, the MariaDB client library (for mysqlclient)
# and Chromium (driven by Playwright). Installs only what is missing.
set -euo pipefail
missing=()
command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || missing+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libmariadb-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> system packages present (mariadb, redis, chromium, libmariadb-dev)"
  exit 0
fi
echo "==> installing system packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
