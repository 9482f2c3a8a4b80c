#!/usr/bin/env python3
"""Traffic ends for the namespace lab (Tests/IntegrationTests).

serve  -- runs in an ISP namespace: TCP and UDP echo servers that answer with the ISP's name and the
          peer address they saw, so a client knows which uplink carried its connection.
client -- runs in the LAN namespace: makes the connections described by a JSON list on stdin
          ([{"src", "proto", "dst", "port"}]), concurrently, and prints one JSON list of results in
          the same order ({"reply": "isp1 100.64.1.2:40000"} or {"error": "timeout"}).
hold   -- runs in the LAN namespace: opens one TCP connection, prints the greeting, then for every
          line on stdin sends it and prints the answer (or "error: ..."); exits at end of stdin.
churn  -- runs in the LAN namespace: opens a new TCP connection every --every seconds and prints
          one line per attempt (the reply or "error: ..."), until killed.
traffic -- runs in the LAN namespace for `flywall lab`: reads a schedule file (one line per new
          connection: "offset_ns src sport proto dst dport"), prints "ready", waits for a line
          "start EPOCH_NS" on stdin, then opens each connection at EPOCH + offset (TCP: a
          non-blocking connect closed after a second; UDP: one datagram) and prints "done".
respond -- runs in an ISP namespace for `flywall lab` (with the kernel's own echo replies off):
          answers ICMP echo requests to --targets after the link's latency plus uniform jitter;
          a stdin line "latency NS JITTER_NS" changes them. This is the lab's latency model.

serve also answers HTTP on --http ports: the status is the number in --http-status-file (204 when
the file is missing), and every request is printed as "http <peer> <path> <status>".

Only addresses inside the test's own namespaces are ever used.
"""
import argparse
import asyncio
import errno
import json
import socket
import sys


def serve(args):
    name = args.name

    class UDPEcho(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(f"{name} {addr[0]}:{addr[1]}\n".encode(), addr)

    async def tcp_echo(reader, writer):
        peer = writer.get_extra_info("peername")
        try:
            writer.write(f"{name} {peer[0]}:{peer[1]}\n".encode())
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(f"{name} {line.decode(errors='replace').strip()}\n".encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def http_status():
        try:
            with open(args.http_status_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError, TypeError):
            return 204

    async def http(reader, writer):
        peer = writer.get_extra_info("peername")
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ")[1].decode(errors="replace") if b" " in request else "?"
            status = http_status()
            print(f"http {peer[0]} {path} {status}", flush=True)
            writer.write(f"HTTP/1.1 {status} Lab\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main():
        loop = asyncio.get_running_loop()
        servers = []
        # host None: every IPv4 and IPv6 address, also those added after the start.
        for port in args.http:
            servers.append(await asyncio.start_server(http, None, port, reuse_address=True))
        for port in args.tcp:
            servers.append(await asyncio.start_server(tcp_echo, None, port, backlog=1024, reuse_address=True))
        # One UDP socket per address: a wildcard socket would answer from the address the route to
        # the client picks, not the one the client wrote to, and NAT on the router would drop it.
        for address in args.udp_address:
            for port in args.udp:
                await loop.create_datagram_endpoint(UDPEcho, local_addr=(address, port))
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def os_error(e):
    """The error with its errno name (asyncio's connect errors carry no strerror in the text)."""
    name = errno.errorcode.get(e.errno, "") if e.errno else ""
    return f"{type(e).__name__}: {name + ' ' if name else ''}{e.strerror or e}"


async def one_tcp(item, timeout):
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(item["dst"], item["port"], local_addr=(item["src"], item.get("sport", 0))),
            timeout)
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            return {"error": "closed"}
        return {"reply": line.decode().strip()}
    except asyncio.TimeoutError:
        return {"error": "timeout"}
    except OSError as e:
        return {"error": os_error(e)}
    finally:
        if writer is not None:
            writer.close()


async def one_udp(item, timeout):
    loop = asyncio.get_running_loop()
    sock = socket.socket(family(item["src"]), socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((item["src"], item.get("sport", 0)))
        sock.connect((item["dst"], item["port"]))
        await loop.sock_sendall(sock, b"hello\n")
        data = await asyncio.wait_for(loop.sock_recv(sock, 2048), timeout)
        return {"reply": data.decode().strip()}
    except asyncio.TimeoutError:
        return {"error": "timeout"}
    except OSError as e:
        return {"error": os_error(e)}
    finally:
        sock.close()


def client(args):
    items = json.load(sys.stdin)

    async def main():
        limit = asyncio.Semaphore(args.concurrency)

        async def run(item):
            async with limit:
                if item["proto"] == "udp":
                    return await one_udp(item, args.timeout)
                return await one_tcp(item, args.timeout)

        return await asyncio.gather(*(run(i) for i in items))

    print(json.dumps(asyncio.run(main())), flush=True)


def family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def hold(args):
    sock = socket.socket(family(args.src), socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    try:
        sock.bind((args.src, 0))
        sock.connect((args.dst, args.port))
        f = sock.makefile("rwb", buffering=0)
        print(f.readline().decode().strip(), flush=True)
    except OSError as e:
        print(f"error: {type(e).__name__}: {e}", flush=True)
        return
    for line in sys.stdin:
        try:
            sock.sendall(line.strip().encode() + b"\n")
            answer = f.readline()
            print(answer.decode().strip() if answer else "error: closed", flush=True)
        except OSError as e:
            print(f"error: {type(e).__name__}: {e}", flush=True)


def churn(args):
    async def main():
        while True:
            item = {"src": args.src, "dst": args.dst, "port": args.port}
            result = await one_tcp(item, args.timeout)
            print(result.get("reply") or f"error: {result.get('error')}", flush=True)
            await asyncio.sleep(args.every)

    asyncio.run(main())


def traffic(args):
    import os
    import time
    plan = []
    with open(args.schedule) as f:
        for line in f:
            off, src, sport, proto, dst, dport = line.split()
            plan.append((int(off), src, int(sport), proto, dst, int(dport)))
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "start":
        return
    epoch = int(line[1])
    open_sockets = []
    for off, src, sport, proto, dst, dport in plan:
        due = (epoch + off) / 1e9
        while True:
            wait = due - time.time()
            if wait <= 0:
                break
            time.sleep(min(wait, 0.05) if wait > 0.002 else 0)
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, sport))
            s.setblocking(False)
            if proto == "udp":
                s.sendto(b"lab\n", (dst, dport))
                s.close()
                continue
            try:
                s.connect((dst, dport))
            except BlockingIOError:
                pass
            open_sockets.append((time.time(), s))
        except OSError as e:
            print(f"error {src}:{sport} {e}", flush=True)
            s.close()
        while open_sockets and time.time() - open_sockets[0][0] > 1.0:
            open_sockets.pop(0)[1].close()
    for _, s in open_sockets:
        s.close()
    print("done", flush=True)


def respond(args):
    import random
    import struct
    import threading
    import time
    import heapq
    targets = set(args.targets.split(","))
    state = {"latency": args.latency / 1e9, "jitter": args.jitter / 1e9}
    senders = {}
    for t in targets:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.bind((t, 0))
        senders[t] = s
    listener = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    # The delay counts from the kernel's receive stamp (CLOCK_REALTIME, as time.time()), so the
    # time this process takes to wake up is not added to it.
    SO_TIMESTAMPNS = 35
    listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    due = []
    lock = threading.Condition()

    def checksum(b):
        if len(b) % 2:
            b += b"\0"
        t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        t = (t >> 16) + (t & 0xffff)
        t += t >> 16
        return ~t & 0xffff

    def control():
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "latency":
                state["latency"], state["jitter"] = int(parts[1]) / 1e9, int(parts[2]) / 1e9

    def sender():
        while True:
            with lock:
                while not due or due[0][0] > time.time():
                    lock.wait(None if not due else max(0, due[0][0] - time.time()))
                _, _, target, peer, packet = heapq.heappop(due)
            try:
                senders[target].sendto(packet, (peer, 0))
            except OSError:
                pass

    threading.Thread(target=control, daemon=True).start()
    threading.Thread(target=sender, daemon=True).start()
    print("ready", flush=True)
    n = 0
    while True:
        data, ancillary, _, (peer, _) = listener.recvmsg(65535, 64)
        received = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                received = seconds + nanoseconds / 1e9
        ihl = (data[0] & 0x0f) * 4
        dst = socket.inet_ntoa(data[16:20])
        icmp = data[ihl:]
        if len(icmp) < 8 or icmp[0] != 8 or dst not in targets:
            continue
        reply = b"\0\0" + struct.pack("!H", checksum(b"\0\0\0\0" + icmp[4:])) + icmp[4:]
        delay = state["latency"] + random.random() * state["jitter"]
        n += 1
        with lock:
            heapq.heappush(due, (received + delay, n, dst, peer, reply))
            lock.notify()


def ports(text):
    return [int(p) for p in text.split(",") if p]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--tcp", type=ports, default=[])
    s.add_argument("--udp", type=ports, default=[])
    s.add_argument("--udp-address", type=lambda t: t.split(","), default=["0.0.0.0"])
    s.add_argument("--http", type=ports, default=[])
    s.add_argument("--http-status-file")
    c = sub.add_parser("client")
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("--concurrency", type=int, default=50)
    h = sub.add_parser("hold")
    h.add_argument("--src", required=True)
    h.add_argument("--dst", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--timeout", type=float, default=3.0)
    r = sub.add_parser("churn")
    r.add_argument("--src", required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--every", type=float, default=0.2)
    r.add_argument("--timeout", type=float, default=1.0)
    t = sub.add_parser("traffic")
    t.add_argument("--schedule", required=True)
    p = sub.add_parser("respond")
    p.add_argument("--targets", required=True)
    p.add_argument("--latency", type=int, default=10_000_000)
    p.add_argument("--jitter", type=int, default=0)
    args = parser.parse_args()
    {"serve": serve, "client": client, "hold": hold, "churn": churn, "traffic": traffic,
     "respond": respond}[args.mode](args)
