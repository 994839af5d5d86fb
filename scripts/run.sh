#!/usr/bin/env bash
# Runs Switchboard on its embedded defaults with a first user ready to call.
#
#   ./scripts/run.sh [serve options...]      e.g. ./scripts/run.sh --config site.toml
#
# Builds the release binary, and when the data directory holds no user yet, creates one:
# sip:first@DOMAIN with a random password, printed once and kept in DATA/first-user.txt
# (readable by the owner only). DOMAIN is $SB_DOMAIN, else this machine's first IPv4
# address, else 127.0.0.1: the address a softphone on the network registers to. Then it
# starts `switchboard serve`, which listens on SIP UDP/TCP 5060, TLS 5061, WebSocket 5066
# and HTTP 127.0.0.1:8080 (/health, /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
data="${SB_DATA:-./switchboard-data}"

cargo build --release --locked -p switchboard
bin="$CARGO_TARGET_DIR/release/switchboard"

# Users already there (from an earlier run, the CLI or a site file): leave them alone.
if ! "$bin" user list --limit 1 --data "$data" 2>/dev/null | grep -qE '^ +sips?:'; then
    domain="${SB_DOMAIN:-$( (hostname -I 2>/dev/null || true) | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -n1)}"
    domain="${domain:-127.0.0.1}"
    password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)"
    printf '%s\n' "$password" | "$bin" user add "sip:first@$domain" --name "First User" \
        --password-stdin --data "$data"
    umask 077
    printf 'address  sip:first@%s\nusername first\ndomain   %s\npassword %s\n' \
        "$domain" "$domain" "$password" > "$data/first-user.txt"
    cat <<MSG

First user ready to call (also in $data/first-user.txt):
  address   sip:first@$domain
  username  first
  password  $password
Sign a softphone in with these, registrar/proxy $domain (UDP or TCP 5060, TLS 5061).
Add more with: $bin user add sip:NAME@$domain --password-stdin

MSG
fi

exec "$bin" serve --data "$data" "$@"
