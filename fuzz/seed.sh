#!/bin/sh
# Seeds fuzz/corpus/<target> with the SIP torture messages (RFC 4475, RFC 5118).
# Run from anywhere: sh fuzz/seed.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../conformance/sip-torture"
for target in parse framing call dialog; do
    mkdir -p "$here/corpus/$target"
    for dir in rfc4475 rfc5118 rfc5118-wire; do
        for f in "$src/$dir"/*; do
            name="$dir-$(basename "$f")"
            if [ "$target" = framing ] || [ "$target" = call ] || [ "$target" = dialog ]; then
                # framing reads a cut count first (0 cuts = the message whole); call reads
                # who sends it (0 = a stranger); dialog reads an operation (0 = feed the
                # message to the first dialog).
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
# A PIDF document with RPID activities, and a calendar with a weekly meeting.
mkdir -p "$here/corpus/presence_doc"
cat > "$here/corpus/presence_doc/pidf" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@example.com"><tuple id="t1"><status><basic>open</basic></status><note>In the lab</note></tuple><dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities></dm:person></presence>
XML
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:20270105T090000Z\r\nDTEND:20270105T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10\r\nSUMMARY:Team\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    > "$here/corpus/presence_doc/weekly.ics"
# SDP offers in the styles of a G.711 gateway and of an SDES/ICE softphone.
mkdir -p "$here/corpus/sdp"
printf 'v=0\r\no=gw 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n' \
    > "$here/corpus/sdp/gateway"
printf 'v=0\r\no=- 5 5 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 111 9 0 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\na=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=candidate:1 1 UDP 2130706431 192.0.2.30 5004 typ host\r\na=rtcp-mux\r\na=sendonly\r\n' \
    > "$here/corpus/sdp/softphone"
# An RTP packet (PCMU) and an RTCP sender report with SDES.
mkdir -p "$here/corpus/rtp"
printf '\200\000\000\001\000\000\000\240\022\064\126\170\377\377\377\377' > "$here/corpus/rtp/pcmu"
printf '\200\310\000\006\022\064\126\170\000\000\000\001\000\000\000\002\000\000\000\240\000\000\000\001\000\000\000\240' > "$here/corpus/rtp/sr"
# SRTP: the RTP packet above with a 10-byte tag of zeros (unprotect must refuse it).
mkdir -p "$here/corpus/srtp"
{ cat "$here/corpus/rtp/pcmu"; printf '\000\000\000\000\000\000\000\000\000\000'; } > "$here/corpus/srtp/pcmu-tagged"
# STUN messages: the RFC 5769 test vectors and keyed ICE checks, kept (and checked to be
# valid STUN) with sb-ice's tests.
mkdir -p "$here/corpus/stun"
cp "$here/../crates/ice/tests/data/stun/"* "$here/corpus/stun/"
echo "seeded $(ls "$here/corpus/parse" | wc -l) inputs per target in $here/corpus"
