#!/usr/bin/env python3
"""Presence fan-out load client: many watchers of one person over UDP, then one change.

  fanout.py --server 127.0.0.1:5060 --target sip:bob@127.0.0.1 --pid SERVER_PID \
            --trigger 'switchboard presence set ...' [--watchers 10000] [--sockets 8]

1. Subscribes --watchers times (RFC 6665 SUBSCRIBE, Event: presence, RFC 3856) to --target,
   each as its own watcher of a foreign domain (sip:wN@load.example, so no digest), spread
   over --sockets UDP sockets, at most --window SUBSCRIBEs outstanding, retransmitted
   after 500 ms (RFC 3261 Timer E, simplified). Every NOTIFY is answered 200 at once.
2. Waits until every subscription is confirmed (200) and has had its first NOTIFY, and
   reads the server's VmRSS (/proc/PID/status) before, right after, and --settle seconds
   after (once the SUBSCRIBE server transactions have ended): memory per subscription.
3. Runs --trigger (one state change of the target) and counts the NOTIFYs that follow:
   NOTIFYs per second from the trigger to the last one, and from the first to the last.
4. Unsubscribes everyone (Expires: 0) so the server is left as it was.

Prints one `key=value` line per figure (for bench/presence/run.sh) and exits 1 when a
phase does not complete. UDP receive-buffer drops on the machine during the run are
reported from /proc/net/snmp (RcvbufErrors), so a lossy run is visible.
"""
import argparse
import os
import selectors
import socket
import subprocess
import sys
import time


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    head, vals = rows[0], rows[1]
    return int(vals[head.index("RcvbufErrors")])


def socket_drops(ports):
    """Datagrams the kernel dropped at the UDP sockets bound to `ports` on 127.0.0.1
    (/proc/net/udp, last column), so drops are told apart by socket."""
    want = {"0100007F:%04X" % p for p in ports}
    total = 0
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] in want:
                total += int(cols[-1])
    return total


def header(msg, name):
    """The value of the first header `name` (full or compact form) in msg (bytes)."""
    names = {name.lower().encode()}
    compact = {"via": b"v", "from": b"f", "to": b"t", "call-id": b"i", "cseq": None}
    if compact.get(name.lower()):
        names.add(compact[name.lower()])
    for line in msg.split(b"\r\n")[1:]:
        if not line:
            break
        n, _, v = line.partition(b":")
        if n.strip().lower() in names:
            return v.strip()
    return None


def all_headers(msg, name):
    out = []
    lname = name.lower().encode()
    for line in msg.split(b"\r\n")[1:]:
        if not line:
            break
        n, _, v = line.partition(b":")
        if n.strip().lower() in (lname, b"v" if lname == b"via" else lname):
            out.append(v.strip())
    return out


class Load:
    def __init__(self, a):
        self.a = a
        host, port = a.server.rsplit(":", 1)
        self.server = (host, int(port))
        self.sel = selectors.DefaultSelector()
        self.socks = []
        for _ in range(a.sockets):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.socks.append(s)
            self.sel.register(s, selectors.EVENT_READ)
        self.state = {}  # call-id -> [confirmed, notifies, last_sent, wire, sock, cseq]
        self.notify_times = {}  # call-id -> arrival times of NOTIFYs (retransmissions once)
        self.seen_cseq = set()
        self.failures = {}

    def subscribe_msg(self, i, expires, to_tag=b"", cseq=1):
        s = self.socks[i % len(self.socks)]
        port = s.getsockname()[1]
        cid = "fan-%d-%d" % (os.getpid(), i)
        to = "<%s>" % self.a.target
        if to_tag:
            to += ";tag=" + to_tag.decode()
        msg = (
            "SUBSCRIBE %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-f%d-%d-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:w%d@load.example>;tag=w%d\r\n"
            "To: %s\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d SUBSCRIBE\r\n"
            "Contact: <sip:w%d@127.0.0.1:%d>\r\n"
            "Event: presence\r\n"
            "Accept: application/pidf+xml\r\n"
            "Expires: %d\r\n"
            "Content-Length: 0\r\n\r\n"
            % (self.a.target, port, os.getpid(), i, cseq, i, i, to, cid, cseq, i, port, expires)
        ).encode()
        return cid, s, msg

    def answer(self, sock, addr, msg):
        lines = [b"SIP/2.0 200 OK"]
        for v in all_headers(msg, "via"):
            lines.append(b"Via: " + v)
        for n in ("From", "To", "Call-ID", "CSeq"):
            v = header(msg, n)
            if v is not None:
                lines.append(n.encode() + b": " + v)
        lines.append(b"Content-Length: 0")
        sock.sendto(b"\r\n".join(lines) + b"\r\n\r\n", addr)

    def pump(self, timeout):
        for key, _ in self.sel.select(timeout):
            sock = key.fileobj
            for _ in range(256):
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                now = time.monotonic()
                cid = (header(data, "call-id") or b"").decode()
                st = self.state.get(cid)
                if data.startswith(b"NOTIFY "):
                    self.answer(sock, addr, data)
                    cseq = header(data, "cseq")
                    if (cid, cseq) in self.seen_cseq:
                        continue
                    self.seen_cseq.add((cid, cseq))
                    self.notify_times.setdefault(cid, []).append(now)
                    if st is not None and st[6] is None:
                        st[6] = header(data, "from").split(b"tag=")[-1].split(b";")[0]
                elif data.startswith(b"SIP/2.0 ") and st is not None:
                    code = int(data[8:11])
                    if code >= 200 and b"SUBSCRIBE" in (header(data, "cseq") or b""):
                        if 200 <= code < 300:
                            st[0] = True
                        else:
                            st[0] = None
                            self.failures[code] = self.failures.get(code, 0) + 1

    def run_phase(self, indices, expires, deadline_s, want_notify):
        """Sends one SUBSCRIBE per index with a window; waits for confirmation (and the
        first NOTIFY when want_notify). Returns the number confirmed."""
        pending = list(indices)
        pending.reverse()
        outstanding = set()
        deadline = time.monotonic() + deadline_s
        done = 0
        while (pending or outstanding) and time.monotonic() < deadline:
            while pending and len(outstanding) < self.a.window:
                i = pending.pop()
                old = self.state.get("fan-%d-%d" % (os.getpid(), i))
                tag = old[6] if old else b""
                cseq = (old[5] + 1) if old else 1
                cid, s, msg = self.subscribe_msg(i, expires, tag or b"", cseq)
                self.state[cid] = [False, 0, time.monotonic(), msg, s, cseq, tag or None]
                s.sendto(msg, self.server)
                outstanding.add(cid)
            self.pump(0.01)
            now = time.monotonic()
            for cid in list(outstanding):
                st = self.state[cid]
                if st[0] is None:
                    outstanding.discard(cid)
                elif st[0] and (not want_notify or self.notify_times.get(cid)):
                    outstanding.discard(cid)
                    done += 1
                elif not st[0] and now - st[2] > 0.5:
                    st[2] = now
                    st[4].sendto(st[3], self.server)
        return done


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--trigger", required=True)
    p.add_argument("--watchers", type=int, default=10000)
    p.add_argument("--sockets", type=int, default=8)
    p.add_argument("--window", type=int, default=500)
    p.add_argument("--expires", type=int, default=3600)
    p.add_argument(
        "--settle",
        type=float,
        default=40,
        help="seconds before the second memory reading, past RFC 3261 Timer J (32 s) "
        "so no SUBSCRIBE transaction is left",
    )
    a = p.parse_args()
    load = Load(a)
    drops0 = rcvbuf_errors()
    rss0 = vm_rss_kib(a.pid)
    t0 = time.monotonic()
    ok = load.run_phase(range(a.watchers), a.expires, 300, True)
    t1 = time.monotonic()
    # Let the server settle (late NOTIFY answers, retransmissions) before reading memory.
    end = time.monotonic() + 2
    while time.monotonic() < end:
        load.pump(0.05)
    rss1 = vm_rss_kib(a.pid)
    end = time.monotonic() + a.settle
    while time.monotonic() < end:
        load.pump(0.2)
    rss2 = vm_rss_kib(a.pid)
    print("watchers=%d" % a.watchers)
    print("subscribed=%d" % ok)
    print("subscribe_seconds=%.2f" % (t1 - t0))
    print("subscribe_failures=%s" % (load.failures or "none"))
    print("rss_before_kib=%d" % rss0)
    print("rss_after_kib=%d" % rss1)
    print("rss_after_settle_kib=%d" % rss2)
    if ok:
        print("bytes_per_subscription=%d" % ((rss1 - rss0) * 1024 // ok))
        print("bytes_per_subscription_settled=%d" % ((rss2 - rss0) * 1024 // ok))
    if ok < a.watchers:
        print("error=only %d of %d subscriptions confirmed with a first NOTIFY" % (ok, a.watchers))
        sys.exit(1)

    before = {cid: len(ts) for cid, ts in load.notify_times.items()}
    trig = time.monotonic()
    subprocess.run(a.trigger, shell=True, check=True, stdout=subprocess.DEVNULL)
    trig_done = time.monotonic()
    last_new = time.monotonic()
    got = 0
    while True:
        load.pump(0.05)
        got_now = sum(1 for cid, ts in load.notify_times.items() if len(ts) > before.get(cid, 0))
        if got_now != got:
            got, last_new = got_now, time.monotonic()
        if got >= ok or time.monotonic() - last_new > 5:
            break
    arrivals = sorted(
        ts[before.get(cid, 0)] for cid, ts in load.notify_times.items() if len(ts) > before.get(cid, 0)
    )
    print("trigger_seconds=%.3f" % (trig_done - trig))
    print("notified=%d" % len(arrivals))
    if arrivals:
        span = arrivals[-1] - trig
        inner = arrivals[-1] - arrivals[0]
        print("first_notify_after_trigger_s=%.3f" % (arrivals[0] - trig))
        print("last_notify_after_trigger_s=%.3f" % span)
        print("notifies_per_second_from_trigger=%.0f" % (len(arrivals) / span))
        if inner > 0:
            print("notifies_per_second_first_to_last=%.0f" % (len(arrivals) / inner))
    load.run_phase(range(a.watchers), 0, 120, False)
    print("udp_rcvbuf_errors_machine=%d" % (rcvbuf_errors() - drops0))
    print("udp_drops_client_sockets=%d" % socket_drops([s.getsockname()[1] for s in load.socks]))
    print("udp_drops_server_socket=%d" % socket_drops([load.server[1]]))
    if len(arrivals) < ok:
        print("error=%d of %d watchers were not notified of the change" % (ok - len(arrivals), ok))
        sys.exit(1)


if __name__ == "__main__":
    main()
