#!/bin/sh
# keepalived's sync group notify script for a Flywall HA pair (docs/ha.md). keepalived calls it as
#   flywall-notify.sh GROUP flywall MASTER|BACKUP|FAULT|STOP [priority]
# Taking over, it first puts the connections conntrackd received from the peer into the kernel,
# then tells Flywall (ha_pair { role_file }); the file is replaced atomically, so Flywall never reads
# half of it. Install as /etc/keepalived/flywall-notify.sh (mode 0755, owned by root).
set -u
state=${3:-}
role_file=/run/flywall/ha-role
conf=/etc/conntrackd/conntrackd.conf

case "$state" in
MASTER)
    conntrackd -C "$conf" -c        # commit the external cache (the peer's connections) to the kernel
    conntrackd -C "$conf" -f        # flush the internal and external caches
    conntrackd -C "$conf" -R        # resync the internal cache with the kernel
    conntrackd -C "$conf" -B        # send a bulk update to the peer
    ;;
BACKUP)
    conntrackd -C "$conf" -n        # ask the peer for a full resync
    conntrackd -C "$conf" -s >/dev/null 2>&1 || true
    ;;
FAULT|STOP)
    conntrackd -C "$conf" -t        # shorten the kernel's timers: these connections are the peer's now
    ;;
*)
    echo "flywall-notify: unknown state '$state'" >&2
    exit 1
    ;;
esac
mkdir -p "$(dirname "$role_file")"
printf '%s\n' "$state" > "$role_file.tmp" && mv -f "$role_file.tmp" "$role_file"
