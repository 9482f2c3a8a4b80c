#!/usr/bin/env bash
# Measures the real daemon (release build) in network namespaces: CPU and RSS of
#  1. an idle 2-WAN router (2 targets each, 5 s interval: the spec's defaults), and
#  2. the most one check may probe: 16 targets (ConfigLimits.targets) every 10 ms (the shortest
#     interval), 1,600 probes/s through one WAN (1,000 targets in one check, the old case, are
#     refused by the config decoder since the hardening);
#  3. side by side in the same run and topology, fping (Debian's, installed if missing) asked for
#     the same: the same 16 targets, 10 ms period per target, 9 ms timeout, no retries.
# For 2 and 3 it also counts the echo requests that reached the ISP (an nftables counter there), so
# the rate each really achieved is printed next to its CPU. Prints one line per case and the load
# average before the run. Needs root. Traffic stays inside the namespaces it creates.
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
# FLYWALL_BIN: a release binary built before (skips the build).
if [ -n "${FLYWALL_BIN:-}" ]; then bin=$FLYWALL_BIN; else swift build -c release --product flywall >/dev/null; bin=.build/release/flywall; fi
command -v fping >/dev/null || apt-get install -y -qq fping >/dev/null
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs); fping $(fping -v | awk '{print $3}')"
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
# Echo requests arriving at ISP 0, counted before anything else sees them.
ip netns exec "${p}i0" nft -f - <<'NFT'
table inet fwcost {
  counter echo { }
  chain in {
    type filter hook prerouting priority -400; policy accept;
    iifname "up0" icmp type echo-request counter name echo
  }
}
NFT
echoes() { ip netns exec "${p}i0" nft list counter inet fwcost echo | awk '/packets/ {print $2}'; }

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

sample() { # seconds: CPU share of $pid over that time, its RSS, and the echo requests ISP 0 saw per second
  local hz; hz=$(getconf CLK_TCK)
  local e0; e0=$(echoes)
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  sleep "$1"
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  local e1; e1=$(echoes)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  cpu=$(awk -v a="$u0" -v b="$s0" -v c="$u1" -v d="$s1" -v hz="$hz" -v t="$1" 'BEGIN { printf "%.1f", ((c + d) - (a + b)) / hz / t * 100 }')
  rate=$(( (e1 - e0) / $1 ))
  perprobe=$(awk -v c="$cpu" -v r="$rate" 'BEGIN { if (r > 0) printf "%.1f", c / 100 / r * 1e6; else print "-" }')
}

measure() { # label config seconds
  "${run_daemon[@]}" "$bin" daemon --config "$2" 2>"$dir/log" & pid=$!
  sleep 3
  if [ ! -e "/proc/$pid/stat" ]; then echo "$1: the daemon exited before the measurement; its log:"; cat "$dir/log"; exit 1; fi
  sample "$3"
  kill -TERM "$pid"; wait "$pid" || true; pid=
  if grep -q "wan_down" "$dir/log"; then echo "$1: a WAN went down during the run (see log)"; cat "$dir/log"; fi
  echo "$1$($steer && echo ' (steered)'): CPU ${cpu}% of one core, RSS $((rss / 1024)) MB; ISP 0 got ${rate} echo requests/s (${perprobe} µs of CPU per probe)"
}

{ wan eth0 0 1 '    targets = ["198.18.0.1", "198.18.0.2"]'; wan eth1 1 2 '    targets = ["198.18.9.1", "198.18.9.2"]'; } > "$dir/idle.hcl"
measure "idle 2-WAN daemon (2 targets each, every 5s)" "$dir/idle.hcl" 20

targets16=$(for k in $(seq 1 16); do printf '"198.18.0.%d", ' "$k"; done)
{ wan eth0 0 1 "    targets  = [${targets16%, }]
    interval = \"10ms\"
    timeout  = \"10ms\"
    threshold_down = 100  # a cost benchmark: late replies on a loaded machine must not take it down"; wan eth1 1 2 '    targets = ["198.18.9.1"]'; } > "$dir/many.hcl"
measure "16 targets x 100 probes/s (daemon process)" "$dir/many.hcl" 20

# fping, asked for the same 1,600 probes/s: it has no pin tables, so the main table gets a route to
# the targets via ISP 0 for this case only (the daemon has removed its own rules and tables).
for k in $(seq 1 16); do echo "198.18.0.$k"; done > "$dir/targets"
ip -n "${p}r" route add 198.18.0.0/22 via 100.64.0.1 dev eth0
"${run_daemon[@]}" fping -l -q -p 10 -i 0.1 -t 9 -r 0 -f "$dir/targets" >/dev/null 2>"$dir/fping.log" & pid=$!
sleep 3
sample 20
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
echo "fping -l -p 10 -i 0.1 -t 9 -r 0, 16 targets$($steer && echo ' (steered)'): CPU ${cpu}% of one core, RSS $((rss / 1024)) MB; ISP 0 got ${rate} echo requests/s (${perprobe} µs of CPU per probe)"
ip -n "${p}r" route del 198.18.0.0/22 via 100.64.0.1 dev eth0
