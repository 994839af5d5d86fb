#!/usr/bin/env bash
# Installs the system packages the tests use, from Debian's archive. Idempotent.
set -euo pipefail
packages=(sip-tester stunnel4 openssl ca-certificates postgresql baresip kamailio libxml2-utils)
packages+=(libxml2-utils python3) # xmllint and python3 check presence documents in the e2e tests
packages+=(iproute2) # media tests make their own network namespace with ip
packages+=(libopus-dev) # sb-codecs links the system libopus through pkg-config
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages present: ${packages[*]}"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
