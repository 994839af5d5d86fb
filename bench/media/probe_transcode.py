#!/usr/bin/env python3
"""Where a transcoding relay spends its added latency, one call at a time.

    bench/media/probe_transcode.py NG_PORT

Sets up one call on an ng relay listening on 127.0.0.1:NG_PORT (rtpengine or
sb-media-relay): the caller offers Opus, the callee is offered PCMU only (codec transcode
PCMU, mask opus). The callee then sends 5 PCMU packets 20 ms apart, pauses 300 ms, and
sends 5 more; every Opus packet the caller receives is printed with its arrival time,
RTP sequence number and timestamp, and which input packet was the last sent before it.
That shows whether the first packet out is the first packet in (what sb-media-load
assumes when it measures transcoded latency), whether the relay holds a frame, and
whether it conceals frames after a burst ends. The call is deleted at the end.
"""
import re
import socket
import struct
import sys
import time


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:" % len(v) + v
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)


def main():
    ng = ("127.0.0.1", int(sys.argv[1]))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctl.settimeout(2)
    counter = [0]

    def request(msg):
        counter[0] += 1
        cookie = b"probe%d" % counter[0]
        ctl.sendto(cookie + b" " + bencode(msg), ng)
        reply = ctl.recv(65535)
        if b"result2:ok" not in reply and b"result4:pong" not in reply:
            sys.exit("ng refused: %r" % reply[:200])
        return reply

    def media_port(reply):
        return int(re.search(rb"m=audio (\d+)", reply).group(1))

    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.setblocking(False)
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind(("127.0.0.1", 0))

    def sdp(port, pt, rtpmap):
        return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                "m=audio %d RTP/AVP %s\r\na=rtpmap:%s %s\r\na=ptime:20\r\na=sendrecv\r\n"
                % (port, pt, pt, rtpmap))

    call_id = "probe-%d" % time.time()
    reply = request({"command": "offer", "call-id": call_id, "from-tag": "a",
                     "sdp": sdp(caller.getsockname()[1], "96", "opus/48000/2"),
                     "codec": {"transcode": ["PCMU"], "mask": ["opus"]}, "ICE": "remove"})
    to_callee = media_port(reply)
    request({"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
             "sdp": sdp(callee.getsockname()[1], "0", "PCMU/8000")})

    # A square-ish wave in µ-law: loud enough that no codec treats it as silence.
    frame = bytes(0x10 if (i // 4) % 2 else 0x90 for i in range(160))
    start = time.monotonic()
    sent, received = [], []

    def send(k):
        header = struct.pack("!BBHII", 0x80, 0, k, 1000 + 160 * k, 0x1234)
        callee.sendto(header + frame, ("127.0.0.1", to_callee))
        sent.append(time.monotonic())

    def listen(until):
        while time.monotonic() < until:
            try:
                data, _ = caller.recvfrom(2048)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            # RTCP multiplexed on the RTP port is not media (RFC 5761 §4).
            if len(data) >= 12 and not 72 <= (data[1] & 0x7F) <= 76:
                seq, ts = struct.unpack("!HI", data[2:8])
                received.append((time.monotonic(), seq, ts, len(data)))

    for burst in (range(0, 5), range(5, 10)):
        for k in burst:
            send(k)
            listen(sent[-1] + 0.02)
        listen(time.monotonic() + 0.3)

    for at, seq, ts, size in received:
        last = max(i for i, t in enumerate(sent) if t <= at)
        print("out at %+7.1f ms  seq %5d  ts %10d  %3d bytes; last input sent before it: #%d, %.1f ms earlier"
              % ((at - start) * 1000, seq, ts, size, last, (at - sent[last]) * 1000))
    print("%d packets in, %d out" % (len(sent), len(received)))
    request({"command": "delete", "call-id": call_id, "from-tag": "a"})


if __name__ == "__main__":
    main()
