#!/usr/bin/env bash
# The HA pair lab (docs/ha.md): two router namespaces running keepalived, conntrackd and flywall
# from dist/ha as they are, two ISPs whose segments both routers share, a LAN with one client.
# Used by Tests/IntegrationTests/HAPairTests.swift and Benchmarks/HA/run.sh.
#
#   pair.sh up P DIR        build namespaces P-ra P-rb P-lan P-isp0 P-isp1, start the ISPs' echo servers
#   pair.sh router P DIR FLYWALL a|b   run one router's keepalived, conntrackd and flywall (foreground,
#                                      one new process group: kill -9 -PGID is the router dying)
#   pair.sh down P          stop what runs in the namespaces and delete them
#
#   ISP n segment 100.64.n.0/24: ISP n 100.64.n.1 (bridge), router A .2, B .3, VRRP address .10
#   LAN 192.168.1.0/24: client .10 (bridge in P-lan), A .2, B .3, VRRP address (gateway) .1
#   sync link 10.255.0.0/30: A .1, B .2 (conntrackd FTFW)
# Each router gets its own /run (tmpfs in its mount namespace) and, through /etc/netns, its own
# /etc/keepalived and /etc/conntrackd with the files of dist/ha. All addresses exist only here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmd=$1 p=$2

up() {
    local dir=$1
    for n in ra rb lan isp0 isp1; do ip netns add "$p-$n"; ip -n "$p-$n" link set lo up; done
    ip -n "$p-lan" link add br0 type bridge; ip -n "$p-lan" link set br0 up
    ip -n "$p-lan" addr add 192.168.1.10/24 dev br0
    ip -n "$p-lan" route add default via 192.168.1.1
    for i in 0 1; do
        local isp=$p-isp$i
        ip -n "$isp" link add br0 type bridge; ip -n "$isp" link set br0 up
        ip -n "$isp" addr add "100.64.$i.1/24" dev br0
        for a in "198.18.$i.1" "198.18.$i.2" 203.0.113.10; do ip -n "$isp" addr add "$a/32" dev lo; done
    done
    local r n
    for r in a b; do
        local ns=$p-r$r
        n=$([ $r = a ] && echo 2 || echo 3)
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
        ip link add lan0 netns "$ns" type veth peer name "r$r" netns "$p-lan"
        ip -n "$p-lan" link set "r$r" master br0 up
        ip -n "$ns" addr add "192.168.1.$n/24" dev lan0; ip -n "$ns" link set lan0 up
        for i in 0 1; do
            ip link add "wan$i" netns "$ns" type veth peer name "r$r" netns "$p-isp$i"
            ip -n "$p-isp$i" link set "r$r" master br0 up
            ip -n "$ns" addr add "100.64.$i.$n/24" dev "wan$i"; ip -n "$ns" link set "wan$i" up
        done
        mkdir -p "/etc/netns/$ns/keepalived" "/etc/netns/$ns/conntrackd"
        cp "$root/dist/ha/keepalived.conf" "$root/dist/ha/flywall-notify.sh" "/etc/netns/$ns/keepalived/"
        cp "$root/dist/ha/conntrackd-$r.conf" "/etc/netns/$ns/conntrackd/conntrackd.conf"
        mkdir -p "$dir/state-$r"
    done
    ip link add sync0 netns "$p-ra" type veth peer name sync0 netns "$p-rb"
    ip -n "$p-ra" addr add 10.255.0.1/30 dev sync0; ip -n "$p-ra" link set sync0 up
    ip -n "$p-rb" addr add 10.255.0.2/30 dev sync0; ip -n "$p-rb" link set sync0 up
    for i in 0 1; do
        ip netns exec "$p-isp$i" setsid python3 "$root/Sources/Simulator/Lab/Resources/echo.py" serve \
            --name "isp$i" --tcp 7 --udp 5000 --udp-address 203.0.113.10 >"$dir/echo-isp$i.log" 2>&1 &
    done
}

router() {
    local dir=$1 flywall=$2 r=$3
    # Inside the router's namespace (ip netns exec gave it a mount namespace of its own).
    mount -t tmpfs tmpfs /run
    mkdir -p /run/lock /run/flywall
    keepalived -n -l -G -i "$r" &
    conntrackd -C /etc/conntrackd/conntrackd.conf &
    exec "$flywall" daemon --config "$root/dist/ha/flywall-$r.hcl" --state-dir "$dir/state-$r"
}

down() {
    for n in ra rb lan isp0 isp1; do
        local ns=$p-$n
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
    done
}

case $cmd in
up) up "$3" ;;
router) exec ip netns exec "$p-r$5" setsid bash "${BASH_SOURCE[0]}" inside "$p" "$3" "$4" "$5" ;;
inside) router "$3" "$4" "$5" ;;
down) down ;;
*) echo "usage: pair.sh up|router|down P ..." >&2; exit 2 ;;
esac
