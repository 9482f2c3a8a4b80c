#!/usr/bin/env python3
"""A LAN client's long-lived flows through the HA pair (docs/ha.md), for the test and the benchmark.

One UDP flow (a datagram every --interval seconds, echoed by the ISP's echo server) and one TCP
connection (a line every 10 ms, echoed) to the same server. Prints "ready" once both got answers,
then on each "report" line from stdin prints one JSON line:
  {"udp_sent", "udp_received", "udp_gap_ms", "tcp_sent", "tcp_received", "tcp_gap_ms", "tcp_error", "isp"}
where *_gap_ms is the longest time without an answer since the previous report, and tcp_error is
null while the connection lives (a reset or close shows its words). "new" on stdin opens a new TCP
connection and prints {"new": isp-or-null}. Exits on end of input.
"""
import argparse, json, socket, sys, threading, time

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dst", required=True)
    p.add_argument("--tcp-port", type=int, default=7)
    p.add_argument("--udp-port", type=int, default=5000)
    p.add_argument("--interval", type=float, default=0.001)
    a = p.parse_args()
    lock = threading.Lock()
    st = {"udp_sent": 0, "udp_received": 0, "udp_last": None, "udp_gap": 0.0,
          "tcp_sent": 0, "tcp_received": 0, "tcp_last": None, "tcp_gap": 0.0, "tcp_error": None, "isp": None}

    def seen(kind, now):
        last = st[kind + "_last"]
        if last is not None:
            st[kind + "_gap"] = max(st[kind + "_gap"], now - last)
        st[kind + "_last"] = now

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.connect((a.dst, a.udp_port))
    udp.settimeout(0.5)
    tcp = socket.create_connection((a.dst, a.tcp_port), timeout=3)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tcp.settimeout(None)
    greeting = tcp.makefile("rb")
    st["isp"] = greeting.readline().decode().split(" ")[0]

    def udp_send():
        while True:
            try:
                udp.send(b"x")
            except OSError:
                pass
            with lock:
                st["udp_sent"] += 1
            time.sleep(a.interval)

    def udp_receive():
        while True:
            try:
                udp.recv(256)
            except socket.timeout:
                continue
            except OSError:
                time.sleep(0.01)
                continue
            with lock:
                st["udp_received"] += 1
                seen("udp", time.monotonic())

    def tcp_send():
        n = 0
        while True:
            try:
                tcp.sendall(b"%d\n" % n)
            except OSError as e:
                with lock:
                    st["tcp_error"] = st["tcp_error"] or "send: %s" % e
                return
            n += 1
            with lock:
                st["tcp_sent"] += 1
            time.sleep(0.01)

    def tcp_receive():
        while True:
            try:
                line = greeting.readline()
            except OSError as e:
                with lock:
                    st["tcp_error"] = st["tcp_error"] or "receive: %s" % e
                return
            if not line:
                with lock:
                    st["tcp_error"] = st["tcp_error"] or "closed by the server"
                return
            with lock:
                st["tcp_received"] += 1
                seen("tcp", time.monotonic())

    for f in (udp_send, udp_receive, tcp_send, tcp_receive):
        threading.Thread(target=f, daemon=True).start()
    while True:
        with lock:
            if st["udp_received"] > 0 and st["tcp_received"] > 0:
                break
        time.sleep(0.01)
    print("ready", st["isp"], flush=True)

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "report":
            with lock:
                now = time.monotonic()
                for k in ("udp", "tcp"):
                    if st[k + "_last"] is not None:
                        st[k + "_gap"] = max(st[k + "_gap"], now - st[k + "_last"])
                out = {"udp_sent": st["udp_sent"], "udp_received": st["udp_received"],
                       "udp_gap_ms": round(st["udp_gap"] * 1000, 1), "tcp_sent": st["tcp_sent"],
                       "tcp_received": st["tcp_received"], "tcp_gap_ms": round(st["tcp_gap"] * 1000, 1),
                       "tcp_error": st["tcp_error"], "isp": st["isp"]}
                st["udp_gap"] = st["tcp_gap"] = 0.0
            print(json.dumps(out), flush=True)
        elif cmd == "new":
            try:
                s = socket.create_connection((a.dst, a.tcp_port), timeout=2)
                s.settimeout(2)
                isp = s.makefile("rb").readline().decode().split(" ")[0] or None
                s.close()
            except OSError:
                isp = None
            print(json.dumps({"new": isp}), flush=True)

main()
