#!/usr/bin/env bash
# Failover detection of the real daemon (release build) in network namespaces: a black hole on the
# primary ISP, and the time until the first new LAN connection leaves through the backup, judged
# from packets captured on the ISP side (never from the daemon's own word).
#
#   bash Benchmarks/Failover/run.sh [RUNS] [INTERVAL_MS] [TIMEOUT_MS] [THRESHOLD_DOWN] [FAILURE_INTERVAL_MS]
#   (defaults: 10 runs, interval 100 ms, timeout 100 ms, threshold_down 2, no failure_interval)
#   FLYWALL_BIN=/path/to/flywall bash Benchmarks/Failover/run.sh   (another build, same way)
#
# Per run, at a random phase against the probe schedule, ISP 0 starts dropping everything it
# receives (carrier stays up). The arithmetic bound is
#   phase + (threshold_down - 1) x failure_interval + timeout
# (failure_interval = interval when not given; docs/configuration.md, "When rounds start"),
# where phase is the time from the black hole to the first probe that it swallows: the first echo
# request captured on ISP 0's side of the link (before its drop rule) that got no reply. The fault
# time is when `nft` returned, so the phase is approximate by a few ms; the time beyond the bound
# (first backup flow - swallowed probe - (threshold_down - 1) x failure_interval - timeout) does not depend
# on it. Prints each run and the median and max of the time beyond the bound. A LAN client opens a new UDP flow (a new source port) every
# millisecond, so the first flow on the backup is seen within about 1 ms of the switch.
# Needs root, ip, nft, tcpdump, python3. Traffic stays inside the namespaces it creates.
set -euo pipefail
runs=${1:-10}
interval=${2:-100}
timeout=${3:-100}
down=${4:-2}
failure=${5:-$interval}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# FLYWALL_BIN: measure another build (e.g. an older commit's) in the same way.
if [ -n "${FLYWALL_BIN:-}" ]; then
  bin=$FLYWALL_BIN
else
  swift build -c release --product flywall >/dev/null
  bin=$PWD/.build/release/flywall
fi
p="fwfo$(printf '%04x' $RANDOM)"
dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in r i0 i1 l; do ip netns del "$p$n" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

for n in r i0 i1 l; do ip netns add "$p$n"; ip -n "$p$n" link set lo up; done
for i in 0 1; do
  ip link add "eth$i" netns "${p}r" type veth peer name up0 netns "${p}i$i"
  ip -n "${p}r" addr add "100.64.$i.2/24" dev "eth$i"; ip -n "${p}r" link set "eth$i" up
  ip -n "${p}i$i" addr add "100.64.$i.1/24" dev up0; ip -n "${p}i$i" link set up0 up
  ip -n "${p}i$i" addr add "198.18.$i.1/32" dev lo      # the health-check target
  ip -n "${p}i$i" addr add "203.0.113.7/32" dev lo      # the server the LAN talks to
done
ip link add lan0 netns "${p}r" type veth peer name eth0 netns "${p}l"
ip -n "${p}r" addr add 192.168.1.1/24 dev lan0; ip -n "${p}r" link set lan0 up
ip -n "${p}l" addr add 192.168.1.10/24 dev eth0; ip -n "${p}l" link set eth0 up
ip -n "${p}l" route add default via 192.168.1.1
ip netns exec "${p}r" sysctl -qw net.ipv4.ip_forward=1

cat > "$dir/flywall.hcl" <<HCL
interface "lan0" {
  zone = "LAN"
}
interface "eth0" {
  zone    = "WAN"
  address = "100.64.0.2/24"
  gateway = "100.64.0.1"
  wan { priority = 1 }
}
interface "eth1" {
  zone    = "WAN"
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan { priority = 2 }
}
uplink_group "default" {
  mode = "failover"
  member "eth0" {
    priority = 1
    health_check {
      targets        = ["198.18.0.1"]
      interval         = "${interval}ms"
      failure_interval = "${failure}ms"
      timeout          = "${timeout}ms"
      threshold_down   = $down
      threshold_up     = 2
    }
  }
  member "eth1" {
    priority = 2
    health_check {
      targets        = ["198.18.1.1"]
      interval       = "${interval}ms"
      timeout        = "${timeout}ms"
      threshold_down = $down
      threshold_up   = 2
    }
  }
}
HCL

ip netns exec "${p}r" "$bin" daemon --config "$dir/flywall.hcl" 2>"$dir/daemon.log" & pids+=($!)
for _ in $(seq 100); do grep -q "dataplane ready" "$dir/daemon.log" && break; sleep 0.1; done
grep -q "dataplane ready" "$dir/daemon.log" || { echo "the daemon did not start:"; cat "$dir/daemon.log"; exit 1; }

# Probes on ISP 0, LAN flows on ISP 1, with kernel timestamps (CLOCK_REALTIME, like `date`).
ip netns exec "${p}i0" tcpdump -i up0 -n -tt -l 'icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply' >"$dir/probes" 2>/dev/null & pids+=($!)
ip netns exec "${p}i1" tcpdump -i up0 -n -tt -l -Q in 'udp and dst host 203.0.113.7' >"$dir/backup" 2>/dev/null & pids+=($!)
ip netns exec "${p}l" python3 -c '
import socket, time
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", ("203.0.113.7", 9))
    s.close()
    time.sleep(0.001)
' & pids+=($!)
sleep 2

settle=$(python3 -c "print(($down + 4) * max($interval, $failure) / 1000 + 0.5)")
: > "$dir/runs"
for run in $(seq "$runs"); do
  sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  ip netns exec "${p}i0" nft -f - <<'NFT'
table ip blackhole {
  chain in { type filter hook prerouting priority -300; policy drop; }
}
NFT
  t0=$(date +%s.%N)
  sleep "$settle"
  ip netns exec "${p}i0" nft delete table ip blackhole
  echo "$t0" >> "$dir/runs"
  # Back to eth0 (threshold_up good rounds), and no backup flow left from this run.
  sleep "$settle"
done
sleep 0.5

python3 - "$dir/runs" "$dir/probes" "$dir/backup" "$interval" "$timeout" "$down" "$failure" <<'PY'
import sys, statistics
runs = [float(l) for l in open(sys.argv[1])]
import re
def stamps(path):
    out = []
    for line in open(path):
        try: out.append(float(line.split()[0]))
        except (ValueError, IndexError): pass
    return sorted(out)
# "1764584532.123456 IP 100.64.0.2 > 198.18.0.1: ICMP echo request, id 3, seq 17, length 24"
requests, replied = [], set()
for line in open(sys.argv[2]):
    m = re.match(r"(\d+\.\d+) .*ICMP echo (request|reply), id (\d+), seq (\d+)", line)
    if not m: continue
    key = (m.group(3), m.group(4))
    if m.group(2) == "request": requests.append((float(m.group(1)), key))
    else: replied.add(key)
swallowed = sorted(t for t, key in requests if key not in replied)
backup = stamps(sys.argv[3])
interval, timeout, down = float(sys.argv[4]) / 1000, float(sys.argv[5]) / 1000, int(sys.argv[6])
failure = float(sys.argv[7]) / 1000
excess, detections = [], []
for n, t0 in enumerate(runs, 1):
    # The black hole was in place when nft returned (t0); a probe a few ms before may be its first victim.
    first_probe = next((p for p in swallowed if p >= t0 - 0.05), None)
    first_flow = next((b for b in backup if b >= t0), None)
    if first_probe is None or first_flow is None:
        print(f"run {n}: no probe or no backup flow after the black hole"); continue
    phase = first_probe - t0
    bound = phase + (down - 1) * failure + timeout
    measured = first_flow - t0
    excess.append(measured - bound)
    detections.append(measured)
    print(f"run {n}: phase {phase*1000:6.1f} ms  bound {bound*1000:6.1f} ms  first backup flow {measured*1000:6.1f} ms  beyond bound {(measured-bound)*1000:5.1f} ms")
if excess:
    print(f"interval {interval*1000:.0f} ms, failure_interval {failure*1000:.0f} ms, timeout {timeout*1000:.0f} ms, "
          f"threshold_down {down}: {len(excess)} runs, "
          f"beyond the bound median {statistics.median(excess)*1000:.1f} ms, max {max(excess)*1000:.1f} ms; "
          f"detection (first backup flow after the fault) median {statistics.median(detections)*1000:.0f} ms, "
          f"max {max(detections)*1000:.0f} ms")
PY
