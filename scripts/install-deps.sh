#!/usr/bin/env bash
# Installs the system packages Flywall builds and tests against (Debian/Ubuntu), only if missing.
# Idempotent and quiet when everything is already there. Uses sudo only when not root.
set -euo pipefail

# pkg-config name -> Debian package(s) that provide it.
declare -A PC_PACKAGES=(
    [libnl-route-3.0]="libnl-3-dev libnl-route-3-dev"
    [libmnl]="libmnl-dev"
    [libnftnl]="libnftnl-dev"
    [libpcap]="libpcap-dev"
    [libcurl]="libcurl4-openssl-dev"
    [libcrypto]="libssl-dev"
    [sqlite3]="libsqlite3-dev"
)
# command -> Debian package.
declare -A CMD_PACKAGES=(
    [pkg-config]="pkg-config"
    [nft]="nftables"
    [ip]="iproute2"
    [tcpdump]="tcpdump"
    # The namespace lab (Tests/IntegrationTests): conntrack checks, echo servers, a real DHCP
    # server and client.
    [conntrack]="conntrack"
    [python3]="python3"
    [dnsmasq]="dnsmasq-base"
    [udhcpc]="udhcpc"
    # HTTPS checks in the lab: a test-made CA and server certificate.
    [openssl]="openssl"
    # The history store (GRDB) links SQLite.
    [sqlite3]="sqlite3"
    # The dashboard's browser test (Tests/FlywallCLITests/DashboardTests.swift): headless Chromium.
    [chromium]="chromium"
    # PPPoE sessions: Debian's pppd with its rp-pppoe plugin (the daemon supervises it).
    [pppd]="ppp"
    # The HA pair lab (Tests/IntegrationTests/HAPairTests.swift, Benchmarks/HA): VRRP and conntrack sync.
    [keepalived]="keepalived"
    [conntrackd]="conntrackd"
)
ALL_PACKAGES="pkg-config libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev libpcap-dev libcurl4-openssl-dev libssl-dev ca-certificates nftables iproute2 tcpdump conntrack python3 python3-pip dnsmasq-base udhcpc openssl libsqlite3-dev sqlite3 chromium ppp keepalived conntrackd python3-aiosmtpd"

# nft, ip, tcpdump, conntrack, dnsmasq and udhcpc live in /usr/sbin, which a non-root PATH may lack.
has_command() {
    local path
    path=$(command -v "$1" 2>/dev/null) && [ -x "$path" ] && return 0
    [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for cmd in "${!CMD_PACKAGES[@]}"; do
    has_command "$cmd" || missing+=("command $cmd")
done
# The real daemon's notification test in namespaces runs Debian's python3 (/usr/bin/python3) for
# its SMTP server, which pip's aiosmtpd (in whatever python3 comes first) may not reach.
/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null || missing+=("python3 module aiosmtpd")
if has_command pkg-config; then
    for pc in "${!PC_PACKAGES[@]}"; do
        pkg-config --exists "$pc" || missing+=("pkg-config $pc")
    done
else
    missing+=("pkg-config modules (no pkg-config)")
fi

# Python tools the operations tests run (Tests/FlywallCLITests/OperationsTests.swift): schemathesis
# checks the API against docs/openapi.yaml, prometheus_client parses GET /metrics; aiosmtpd is the
# real SMTP server (STARTTLS, AUTH) the notification tests send to.
# Pinned to the versions the suite passes with, so a new major release cannot break CI unseen.
PYTHON_TOOLS="schemathesis==4.32.5 prometheus_client==0.26.0 aiosmtpd==1.4.6"
install_python_tools() {
    python3 - $PYTHON_TOOLS <<'PY' 2>/dev/null && return 0
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (a.split("==") for a in sys.argv[1:])) else 1)
PY
    echo "install-deps: pip install $PYTHON_TOOLS" >&2
    # shellcheck disable=SC2086 # one word per requirement
    python3 -m pip install -q $PYTHON_TOOLS >&2 || {
        echo "install-deps: pip could not install $PYTHON_TOOLS" >&2
        return 1
    }
}

if [ "${#missing[@]}" -eq 0 ]; then
    install_python_tools
    exit 0
fi

echo "install-deps: missing: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get here; install these yourself: $ALL_PACKAGES" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: not root and no sudo; as root run: apt-get install $ALL_PACKAGES" >&2
        exit 1
    fi
fi

echo "install-deps: apt-get install $ALL_PACKAGES" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# shellcheck disable=SC2086
"${SUDO[@]}" apt-get install -y -q --no-install-recommends $ALL_PACKAGES

# Check again, so a package that did not provide what it should fails here, not in the build.
still=()
for cmd in "${!CMD_PACKAGES[@]}"; do has_command "$cmd" || still+=("command $cmd"); done
for pc in "${!PC_PACKAGES[@]}"; do pkg-config --exists "$pc" || still+=("pkg-config $pc"); done
if [ "${#still[@]}" -ne 0 ]; then
    echo "install-deps: still missing after install: ${still[*]}" >&2
    exit 1
fi
install_python_tools
echo "install-deps: done" >&2
