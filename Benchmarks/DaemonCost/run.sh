#!/usr/bin/env bash
# Measures the real daemon (release build) in network namespaces: CPU and RSS of
#  1. an idle 2-WAN router (2 targets each, 5 s interval: the spec's defaults), and
#  2. 1,000 targets probed 10 times a second (one WAN, interval 100 ms).
# Prints one line per case. Needs root. Traffic stays inside the namespaces it creates.
#
# On veth, the peer namespace's receive path (the fake ISP answering the echo requests) runs in
# the sender's context and is charged to the daemon. `--steer` pins the daemon to CPU 0 and steers
# the ISP side's receive processing to CPU 1 (RPS), as a real NIC's interrupts would take it off
# the sender: that isolates what the daemon itself costs.
set -euo pipefail
steer=false
[ "${1:-}" = "--steer" ] && steer=true
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Benchmarks/probe-lab.sh
swift build -c release --product flywall >/dev/null
bin=.build/release/flywall
p="fwcost$(printf '%04x' $RANDOM)"
dir=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  probe_lab_down
  rm -rf "$dir"
}
trap cleanup EXIT

probe_lab_up
run_daemon=(ip netns exec "${p}r")
if $steer; then
  for i in 0 1; do ip netns exec "${p}i$i" sh -c 'echo 2 > /sys/class/net/up0/queues/rx-0/rps_cpus'; done
  run_daemon=(taskset -c 0 ip netns exec "${p}r")
fi

wan() { # name index priority check
  cat <<HCL
interface "$1" {
  zone    = "WAN"
  address = "100.64.$2.2/24"
  gateway = "100.64.$2.1"
  wan {
    priority = $3
  }
  health_check {
$4
  }
}
HCL
}

measure() { # label config seconds
  "${run_daemon[@]}" "$bin" daemon --config "$2" 2>"$dir/log" & pid=$!
  sleep 3
  local hz; hz=$(getconf CLK_TCK)
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  sleep "$3"
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  local cpu; cpu=$(awk -v a="$u0" -v b="$s0" -v c="$u1" -v d="$s1" -v hz="$hz" -v t="$3" 'BEGIN { printf "%.1f", ((c + d) - (a + b)) / hz / t * 100 }')
  kill -TERM "$pid"; wait "$pid" || true; pid=
  if grep -q "wan_down" "$dir/log"; then echo "$1: a WAN went down during the run (see log)"; cat "$dir/log"; fi
  echo "$1$($steer && echo ' (steered)'): CPU ${cpu}% of one core, RSS $((rss / 1024)) MB"
}

{ wan eth0 0 1 '    targets = ["198.18.0.1", "198.18.0.2"]'; wan eth1 1 2 '    targets = ["198.18.9.1", "198.18.9.2"]'; } > "$dir/idle.hcl"
measure "idle 2-WAN daemon (2 targets each, every 5s)" "$dir/idle.hcl" 20

{ wan eth0 0 1 "    targets  = [$(probe_lab_targets)]
    interval = \"100ms\"
    timeout  = \"90ms\""; wan eth1 1 2 '    targets = ["198.18.9.1"]'; } > "$dir/many.hcl"
measure "1,000 targets x 10 probes/s (daemon process)" "$dir/many.hcl" 20
