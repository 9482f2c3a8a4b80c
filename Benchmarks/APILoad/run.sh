#!/usr/bin/env bash
# The HTTP API under load while the daemon probes 1,000 targets 10 times a second (release build,
# network namespaces, as Benchmarks/DaemonCost/run.sh builds them, plus 61 more WANs to ISP 0):
#  1. 30 s without API load, then
#  2. 30 s of `wrk` against GET /api/wan/status on the router's loopback,
# and for each phase how late the core loop woke for its deadlines (probe round starts and
# timeouts), from the daemon's own metrics: the histogram `flywall_probe_round_lateness_seconds`
# (the increase over the phase: count and mean) and the exact worst, the maximum of the gauge
# `flywall_probe_round_lateness_recent_max_seconds` (worst of the last 10 s) read every 9.5 s over
# the phase. Needs root and wrk (Debian).
# Traffic stays inside the namespaces it creates. Usage: run.sh [seconds per phase] [wrk connections]
set -euo pipefail
seconds=${1:-30}
connections=${2:-32}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Benchmarks/probe-lab.sh
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product flywall >/dev/null
bin=.build/release/flywall
p="fwapi$(printf '%04x' $RANDOM)"
dir=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  probe_lab_down
  rm -rf "$dir"
}
trap cleanup EXIT

probe_lab_up
# A check holds at most 16 targets (ConfigLimits), so the 1,000 targets are split over 63 WANs to
# ISP 0: eth0 and eth2-eth63 (each its own veth into ISP 0, 100.65.K.0/24), 16 targets each (the
# last 8); eth1 to ISP 1 is the backup.
wans=(0 $(seq 2 63))
for k in "${wans[@]}"; do
  [ "$k" -eq 0 ] && continue
  ip link add "eth$k" netns "${p}r" type veth peer name "up$k" netns "${p}i0"
  ip -n "${p}r" addr add "100.65.$k.2/24" dev "eth$k"; ip -n "${p}r" link set "eth$k" up
  ip -n "${p}i0" addr add "100.65.$k.1/24" dev "up$k"; ip -n "${p}i0" link set "up$k" up
done
{
  n=0
  for k in "${wans[@]}"; do
    if [ "$k" -eq 0 ]; then address=100.64.0.2/24 gateway=100.64.0.1; else address=100.65.$k.2/24 gateway=100.65.$k.1; fi
    targets=$(for t in $(seq $((n * 16)) $((n * 16 + 15))); do
      if [ "$t" -lt 1000 ]; then printf '"198.18.%d.%d", ' $((t / 250)) $((t % 250 + 1)); fi; done)
    n=$((n + 1))
    cat <<HCL
interface "eth$k" {
  address = "$address"
  gateway = "$gateway"
  wan {
    priority = $n
  }
  health_check {
    targets  = [${targets%, }]
    interval = "100ms"
    timeout  = "90ms"
  }
}
HCL
  done
  cat <<HCL
interface "eth1" {
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan {
    priority = 100
  }
  health_check {
    targets = ["198.18.9.1"]
  }
}
HCL
} > "$dir/flywall.hcl"

in_router=(ip netns exec "${p}r")
"${in_router[@]}" "$bin" daemon --config "$dir/flywall.hcl" --state-dir "$dir/state" 2>"$dir/log" & pid=$!
for _ in $(seq 100); do "${in_router[@]}" curl -sf -o /dev/null http://127.0.0.1:8080/api/wan/status && break; sleep 0.1; done
"${in_router[@]}" curl -sf -o /dev/null http://127.0.0.1:8080/api/wan/status || { echo "the daemon did not start:" >&2; cat "$dir/log" >&2; exit 1; }
# The first rounds run before 64 WANs' routes are all in place (every WAN goes down within 0.3 s of
# start); the phases begin once every WAN is up again (at most 60 s after the first 3 s).
sleep 3
for _ in $(seq 600); do
  "${in_router[@]}" curl -sf http://127.0.0.1:8080/api/wan/status | grep -q '"status":"DOWN"' || break; sleep 0.1
done
sleep 2

# The lateness histogram's cumulative buckets, as "le count" lines.
buckets() { "${in_router[@]}" curl -sf http://127.0.0.1:8080/metrics | awk -F'[{}" ]+' '
  /^flywall_probe_round_lateness_seconds_bucket/ { print $3, $4 }
  /^flywall_probe_round_lateness_seconds_sum/ { print "sum", $2 }
  /^flywall_probe_round_lateness_seconds_count/ { print "count", $2 }'; }

# The worst lateness of the last 10 s, in seconds.
recent_max() { "${in_router[@]}" curl -sf http://127.0.0.1:8080/metrics |
  awk '/^flywall_probe_round_lateness_recent_max_seconds / { print $2 }'; }

# Sleeps through a phase of $1 seconds, reading the 10 s maximum every 9.5 s (the windows overlap,
# so none of the phase is missed; each edge may take in up to 0.5 s more), into file $2.
watch_phase() {
  local left=$1 step
  : > "$2"
  while awk -v l="$left" 'BEGIN { exit !(l > 0) }'; do
    step=$(awk -v l="$left" 'BEGIN { print (l < 9.5 ? l : 9.5) }')
    sleep "$step"; recent_max >> "$2"
    left=$(awk -v l="$left" -v s="$step" 'BEGIN { print l - s }')
  done
}

report() { # label before after worst-readings
  local worst
  worst=$(sort -g "$4" | tail -1)
  awk -v label="$1" -v worst="$worst" 'NR == FNR { a[$1] = $2; next } { d[$1] = $2 - a[$1] }
    END {
      printf "%s: %d deadline wake-ups, mean lateness %.3f ms, max %.3f ms\n", label, d["count"], d["count"] ? d["sum"] / d["count"] * 1000 : 0, worst * 1000
    }' "$2" "$3"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
phases_from=$(date -u +%H:%M:%S)
echo "daemon started, phases from $phases_from"
buckets > "$dir/b0"; watch_phase "$seconds" "$dir/w1"; buckets > "$dir/b1"
report "without API load (${seconds}s)" "$dir/b0" "$dir/b1" "$dir/w1"
echo "load average after phase 1: $(cut -d' ' -f1-3 /proc/loadavg)"
buckets > "$dir/b2"
"${in_router[@]}" wrk -t2 -c"$connections" -d"${seconds}s" --latency http://127.0.0.1:8080/api/wan/status > "$dir/wrk" &
wrk_pid=$!
watch_phase "$seconds" "$dir/w2"
wait "$wrk_pid"
buckets > "$dir/b3"
report "with wrk -t2 -c$connections on /api/wan/status (${seconds}s)" "$dir/b2" "$dir/b3" "$dir/w2"
grep -E "Requests/sec|Latency  |  99%|  50%|requests in|Non-2xx|Socket errors" "$dir/wrk"
"${in_router[@]}" curl -sf http://127.0.0.1:8080/api/wan/health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("max lateness since start (health):", round(h["round_lateness"]["max_ms"], 3), "ms")'
# WAN events by kind, before the phases (start-up) and during them.
awk -v start="$phases_from" '/^<5>[0-9-]+T[0-9:.]+Z (wan_down|wan_up):/ {
    kind = $2; sub(/:$/, "", kind); t = substr($1, 15, 8); if (t < start) before[kind]++; else during[kind]++ }
  END { printf "WAN events before the phases: %d wan_down, %d wan_up; during them: %d wan_down, %d wan_up\n",
        before["wan_down"], before["wan_up"], during["wan_down"], during["wan_up"] }' "$dir/log"
grep -E "^<5>\S+ wan_(down|up):" "$dir/log" | awk -v start="$phases_from" 'substr($1, 15, 8) >= start' | cut -c1-110 | head -5
echo "machine load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
