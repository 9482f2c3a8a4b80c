#!/usr/bin/env bash
# Prints the "A captured run" section of docs/operations.md: the demo daemon on the built-in
# black-hole scenario at --speed 10 (no root), the operator's commands exactly as run, each
# followed by its real output, then the daemon's log. Paste its output into the doc unchanged.
# Usage: scripts/capture-operations-doc.sh [PORT]   (FLYWALL=path/to/flywall, default .build/debug/flywall)
set -euo pipefail
port=${1:-18082}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
flywall=${FLYWALL:-.build/debug/flywall}
[ -x "$flywall" ] || { echo "no $flywall: swift build first" >&2; exit 1; }
dir=$(mktemp -d /tmp/flywall-capture.XXXXXX)
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

scenario="$dir/demo.hcl"
cp Scenarios/basic-dual-wan-blackhole.hcl "$scenario"
printf '\napi {\n  token = "demo-token-0123456789"\n}\n' >> "$scenario"
api="http://127.0.0.1:$port"
# `flywall` on PATH is this build, so the lines below read as an operator types them.
mkdir "$dir/bin"; ln -s "$(realpath "$flywall")" "$dir/bin/flywall"; export PATH="$dir/bin:$PATH"

# Shows a command line, runs it, shows its output and a non-zero exit status.
run() {
  echo "\$ $*"
  local rc=0
  eval "$@" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || echo "(exit $rc)"
}
quiet_until() { # seconds pattern: polls wan status until it shows the pattern
  for _ in $(seq $(($1 * 10))); do
    flywall wan status --api "$api" 2>/dev/null | grep -q "$2" && return 0; sleep 0.1
  done
  echo "capture: timed out waiting for '$2'" >&2; exit 1
}

echo "\$ flywall daemon --scenario demo.hcl --speed 10 --api 127.0.0.1:$port --state-dir /tmp/flywall-demo 2>daemon.log &"
echo "  (demo.hcl: Scenarios/basic-dual-wan-blackhole.hcl with api { token = \"demo-token-0123456789\" } added)"
flywall daemon --scenario "$scenario" --speed 10 --api "127.0.0.1:$port" --state-dir "$dir/state" 2>"$dir/log" & pid=$!
quiet_until 30 "eth0       DOWN"
echo
run flywall wan status --api "$api"
echo
run flywall wan health --api "$api"
echo
run flywall wan disable eth1 --api "$api"
run export FLYWALL_API_TOKEN=demo-token-0123456789
run flywall wan failover default eth1 --api "$api"
run flywall wan disable eth1 --api "$api"
run flywall wan enable eth1 --api "$api"
run flywall wan disable eth9 --api "$api"
quiet_until 30 "eth0       UP"
echo
run flywall wan history --api "$api"
echo
run flywall wan history --interface eth0 --limit 2 --json --api "$api"
echo
run curl -s "$api/api/wan/status"
echo
run "curl -s $api/metrics | grep -E '^flywall_(wan_up|wan_rtt|group_active|dataplane_applies)'"
run flywall wan status --api http://127.0.0.1:9
echo
echo "--- the daemon's log (daemon.log) ---"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
sed "s|$dir/demo.hcl|demo.hcl|g" "$dir/log"
