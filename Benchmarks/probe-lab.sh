# Sourced by the namespace benchmarks (DaemonCost, APILoad): a router namespace "${p}r" with WANs
# eth0 and eth1 on veth to two ISP namespaces "${p}i0" and "${p}i1" (100.64.0.0/24, 100.64.1.0/24),
# 1,000 probe targets on ISP 0's loopback (198.18.0.1-198.18.3.250) and two on ISP 1's
# (198.18.9.1, 198.18.9.2). Needs root and `p` set to a unique prefix; remove with probe_lab_down.
probe_lab_up() {
  for n in r i0 i1; do ip netns add "$p$n"; ip -n "$p$n" link set lo up; done
  for i in 0 1; do
    ip link add "eth$i" netns "${p}r" type veth peer name up0 netns "${p}i$i"
    ip -n "${p}r" addr add "100.64.$i.2/24" dev "eth$i"; ip -n "${p}r" link set "eth$i" up
    ip -n "${p}i$i" addr add "100.64.$i.1/24" dev up0; ip -n "${p}i$i" link set up0 up
  done
  ip netns exec "${p}r" sysctl -qw net.ipv4.ip_forward=1
  for k in $(seq 0 999); do echo "address add 198.18.$((k / 250)).$((k % 250 + 1))/32 dev lo"; done | ip -n "${p}i0" -batch -
  ip -n "${p}i1" addr add 198.18.9.1/32 dev lo; ip -n "${p}i1" addr add 198.18.9.2/32 dev lo
}

probe_lab_down() {
  for n in r i0 i1; do ip netns del "$p$n" 2>/dev/null || true; done
}

# The 1,000 targets as an HCL list body: "198.18.0.1", "198.18.0.2", ...
probe_lab_targets() {
  local t; t=$(for k in $(seq 0 999); do printf '"198.18.%d.%d", ' $((k / 250)) $((k % 250 + 1)); done)
  echo "${t%, }"
}
