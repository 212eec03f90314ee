#!/usr/bin/env bash
# Installs what building, testing and the demo need, when it is missing.
# Debian 12 packages only; needs root (or passwordless sudo) the first time.
set -euo pipefail

packages=(make gcc postgresql-15 postgresql-server-dev-15 postgresql-15-cron
          postgresql-contrib libpq-dev libipc-run-perl libmicrohttpd-dev curl
          prometheus-postgres-exporter)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null && SUDO="sudo" ||
    { echo "setup: missing packages ${missing[*]} and not root" >&2; exit 1; }
fi
echo "setup: installing ${missing[*]}"
# Tests run their own throwaway clusters: do not create or start a system one.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  $SUDO mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
