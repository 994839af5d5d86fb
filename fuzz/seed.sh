#!/bin/sh
# Seeds fuzz/corpus/<target> with the SIP torture messages (RFC 4475, RFC 5118).
# Run from anywhere: sh fuzz/seed.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../conformance/sip-torture"
for target in parse framing; do
    mkdir -p "$here/corpus/$target"
    for dir in rfc4475 rfc5118 rfc5118-wire; do
        for f in "$src/$dir"/*; do
            name="$dir-$(basename "$f")"
            if [ "$target" = framing ]; then
                # The framing target reads a cut count first: 0 cuts = the message whole.
                { printf '\000'; cat "$f"; } > "$here/corpus/$target/$name"
            else
                cp "$f" "$here/corpus/$target/$name"
            fi
        done
    done
done
echo "seeded $(ls "$here/corpus/parse" | wc -l) inputs per target in $here/corpus"
