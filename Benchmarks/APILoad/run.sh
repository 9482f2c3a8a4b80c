#!/usr/bin/env bash
# The HTTP API under load while the daemon probes 1,000 targets 10 times a second (release build,
# network namespaces, as Benchmarks/DaemonCost/run.sh builds them):
#  1. 30 s without API load, then
#  2. 30 s of `wrk` against GET /api/wan/status on the router's loopback,
# and for each phase how late the core loop woke for its deadlines (probe round starts and
# timeouts), from the daemon's own histogram `flywall_probe_round_lateness_seconds` (the increase
# over the phase: count, mean, and the bucket holding the worst one). Needs root and wrk (Debian).
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
cat > "$dir/flywall.hcl" <<HCL
interface "eth0" {
  address = "100.64.0.2/24"
  gateway = "100.64.0.1"
  wan {
    priority = 1
  }
  health_check {
    targets  = [$(probe_lab_targets)]
    interval = "100ms"
    timeout  = "90ms"
  }
}
interface "eth1" {
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan {
    priority = 2
  }
  health_check {
    targets = ["198.18.9.1"]
  }
}
HCL

in_router=(ip netns exec "${p}r")
"${in_router[@]}" "$bin" daemon --config "$dir/flywall.hcl" --state-dir "$dir/state" 2>"$dir/log" & pid=$!
for _ in $(seq 100); do "${in_router[@]}" curl -sf -o /dev/null http://127.0.0.1:8080/api/wan/status && break; sleep 0.1; done
sleep 5

# The lateness histogram's cumulative buckets, as "le count" lines.
buckets() { "${in_router[@]}" curl -sf http://127.0.0.1:8080/metrics | awk -F'[{}" ]+' '
  /^flywall_probe_round_lateness_seconds_bucket/ { print $3, $4 }
  /^flywall_probe_round_lateness_seconds_sum/ { print "sum", $2 }
  /^flywall_probe_round_lateness_seconds_count/ { print "count", $2 }'; }

report() { # label before after
  awk -v label="$1" 'NR == FNR { a[$1] = $2; next } { d[$1] = $2 - a[$1]; order[++n] = $1 }
    END {
      worst = "none"
      for (i = 1; i <= n; i++) { k = order[i]; if (k == "sum" || k == "count") continue
        if (k != "+Inf" && d[k] == d["count"] && worst == "none") { worst = "<= " k * 1000 " ms" } }
      if (worst == "none") worst = "> 1000 ms"
      printf "%s: %d deadline wake-ups, mean lateness %.3f ms, worst %s\n", label, d["count"], d["count"] ? d["sum"] / d["count"] * 1000 : 0, worst
    }' "$2" "$3"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "daemon started, phases from $(date -u +%H:%M:%S)"
buckets > "$dir/b0"; sleep "$seconds"; buckets > "$dir/b1"
report "without API load (${seconds}s)" "$dir/b0" "$dir/b1"
"${in_router[@]}" wrk -t2 -c"$connections" -d"${seconds}s" --latency http://127.0.0.1:8080/api/wan/status > "$dir/wrk" &
wrk_pid=$!
sleep 0.5; buckets > "$dir/b2"
wait "$wrk_pid"
buckets > "$dir/b3"
report "with wrk -t2 -c$connections on /api/wan/status (${seconds}s)" "$dir/b2" "$dir/b3"
grep -E "Requests/sec|Latency  |  99%|  50%|requests in|Non-2xx|Socket errors" "$dir/wrk"
"${in_router[@]}" curl -sf http://127.0.0.1:8080/api/wan/health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("max lateness since start (health):", round(h["round_lateness"]["max_ms"], 3), "ms")'
if grep -q "wan_down" "$dir/log"; then echo "a WAN went down (compare with the phases' start):"; grep wan_down "$dir/log" | cut -c1-120; fi
echo "machine load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
