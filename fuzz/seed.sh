#!/bin/sh
# Seeds fuzz/corpus/<target> with the SIP torture messages (RFC 4475, RFC 5118).
# Run from anywhere: sh fuzz/seed.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../conformance/sip-torture"
for target in parse framing call; do
    mkdir -p "$here/corpus/$target"
    for dir in rfc4475 rfc5118 rfc5118-wire; do
        for f in "$src/$dir"/*; do
            name="$dir-$(basename "$f")"
            if [ "$target" = framing ] || [ "$target" = call ]; then
                # framing reads a cut count first (0 cuts = the message whole); call reads
                # who sends it (0 = a stranger).
                { printf '\000'; cat "$f"; } > "$here/corpus/$target/$name"
            else
                cp "$f" "$here/corpus/$target/$name"
            fi
        done
    done
done
# Digest header values as clients and servers write them (RFC 7616 §3.3, §3.4).
mkdir -p "$here/corpus/auth_header"
printf '%s' 'Digest realm="example.com", nonce="abc", qop="auth", algorithm=MD5, opaque="x"' \
    > "$here/corpus/auth_header/challenge"
printf '%s' 'Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=SHA-256, cnonce="c", qop=auth, nc=00000001' \
    > "$here/corpus/auth_header/credentials"
printf '%s' 'Digest username*=UTF-8'"''"'J%C3%A4s%C3%B8n, realm="r", nonce="n", uri="sip:x", response="00", userhash=false' \
    > "$here/corpus/auth_header/userhash"
echo "seeded $(ls "$here/corpus/parse" | wc -l) inputs per target in $here/corpus"
