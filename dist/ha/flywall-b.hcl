# Flywall on router B of an HA pair (docs/ha.md). Both routers' files differ only in the
# routers' own addresses (the lines marked "own"): `flywall config check --peer flywall-a.hcl flywall-b.hcl`
# warns about anything else that differs in the dataplane layout.

interface "wan0" {
  zone    = "WAN"
  address = "100.64.0.3/24"      # own: probes leave from here, also on the backup
  gateway = "100.64.0.1"
  wan {
    priority    = 1
    nat_address = "100.64.0.10"   # the VRRP address: LAN connections keep it across a takeover
  }
  health_check {
    type           = "icmp"
    targets        = ["198.18.0.1", "198.18.0.2"]
    interval       = "500ms"
    timeout        = "300ms"
    threshold_down = 3
    threshold_up   = 3
  }
}

interface "wan1" {
  zone    = "WAN"
  address = "100.64.1.3/24"      # own
  gateway = "100.64.1.1"
  wan {
    priority    = 2
    nat_address = "100.64.1.10"
  }
  health_check {
    type           = "icmp"
    targets        = ["198.18.1.1", "198.18.1.2"]
    interval       = "500ms"
    timeout        = "300ms"
    threshold_down = 3
    threshold_up   = 3
  }
}

interface "lan0" {
  zone    = "LAN"
  address = "192.168.1.3/24"     # own; the LAN's gateway is the VRRP address 192.168.1.1
}

uplink_group "default" {
  mode = "failover"
  member "wan0" {}
  member "wan1" {}
}

ha_pair {
  role_file = "/run/flywall/ha-role"   # written by /etc/keepalived/flywall-notify.sh
}
