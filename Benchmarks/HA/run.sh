#!/usr/bin/env bash
# The gap in established flows when the master of the HA pair dies (docs/ha.md, "Measured").
#
#   bash Benchmarks/HA/run.sh [RUNS]        (default 10)
#   FLYWALL_BIN=/path/to/flywall bash Benchmarks/HA/run.sh
#
# Per run: the pair of Benchmarks/HA/pair.sh (dist/ha as is: keepalived with advert_int 0.1,
# conntrackd FTFW, flywall on both routers), router A master; a LAN client sends a UDP datagram
# every millisecond and a TCP line every 10 ms to a server behind ISP 0, both echoed. After 3 s
# (conntrackd has synced the flows), A dies: kill -9 of its process group (keepalived, conntrackd,
# flywall) and its links down (a dead box forwards nothing). 3 s later the client reports the UDP
# datagrams lost, the longest time without an answer (UDP and TCP) and whether TCP broke.
# Prints one line per run and the medians. Needs root, ip, keepalived, conntrackd, python3.
# Traffic stays inside the namespaces it creates. Flywall is not on the forwarding path's timing
# (the kernel forwards, keepalived decides), so the debug build is used unless FLYWALL_BIN is set.
set -euo pipefail
runs=${1:-10}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
if [ -n "${FLYWALL_BIN:-}" ]; then bin=$FLYWALL_BIN; else swift build --product flywall >/dev/null; bin=$PWD/.build/debug/flywall; fi
# fwlab-<pid>-...: the lab's sweep removes what a killed run leaves behind.
p="fwlab-$$-$(printf '%06x' $((RANDOM * 32768 + RANDOM)))-ha"
dir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
    exec 7>&- 2>/dev/null || true
    bash "$here/pair.sh" down "$p"
    rm -rf "$dir"
}
trap cleanup EXIT

role() { ip netns exec "$p-r$1" "$bin" wan status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("role"))' 2>/dev/null || true; }
wait_role() {
    for _ in $(seq 100); do [ "$(role "$1")" = "$2" ] && return 0; sleep 0.1; done
    echo "router $1 never became $2" >&2; return 1
}

echo "load: $(cat /proc/loadavg)"
printf '%-4s %10s %12s %12s %s\n' run udp_lost udp_gap_ms tcp_gap_ms tcp
results=()
for run in $(seq "$runs"); do
    pids=()
    bash "$here/pair.sh" up "$p" "$dir"
    bash "$here/pair.sh" router "$p" "$dir" "$bin" a >"$dir/a.log" 2>&1 & pids+=($!)
    wait_role a master
    bash "$here/pair.sh" router "$p" "$dir" "$bin" b >"$dir/b.log" 2>&1 & pids+=($!)
    wait_role b backup
    rm -f "$dir/in"; mkfifo "$dir/in"
    ip netns exec "$p-lan" python3 "$here/flows.py" --dst 203.0.113.10 <"$dir/in" >"$dir/flows.out" 2>&1 & pids+=($!)
    exec 7>"$dir/in"
    sleep 3
    echo report >&7
    sleep 0.2
    before=$(tail -1 "$dir/flows.out")
    # pair.sh router ends in setsid (no fork: a background job is no group leader): its pid is the router's process group.
    kill -9 -- "-${pids[0]}"
    for l in lan0 wan0 wan1 sync0; do ip -n "$p-ra" link set "$l" down; done
    wait_role b master
    sleep 3
    echo report >&7
    sleep 0.3
    after=$(tail -1 "$dir/flows.out")
    line=$(python3 - "$before" "$after" <<'PY'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
lost = (a["udp_sent"] - b["udp_sent"]) - (a["udp_received"] - b["udp_received"])
print(lost, a["udp_gap_ms"], a["tcp_gap_ms"], "reset: " + a["tcp_error"] if a["tcp_error"] else "alive")
PY
)
    set -- $line
    printf '%-4s %10s %12s %12s %s\n' "$run" "$1" "$2" "$3" "${*:4}"
    results+=("$line")
    exec 7>&-
    for pid in "${pids[@]}"; do kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$here/pair.sh" down "$p"
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
col = lambda i: [float(r[i]) for r in rows]
alive = sum(1 for r in rows if r[3] == "alive")
print("median: udp lost %.0f, udp gap %.1f ms (max %.1f), tcp gap %.1f ms (max %.1f); tcp alive in %d of %d runs"
      % (statistics.median(col(0)), statistics.median(col(1)), max(col(1)), statistics.median(col(2)), max(col(2)), alive, len(rows)))'
echo "load: $(cat /proc/loadavg)"
