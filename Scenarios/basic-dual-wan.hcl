# The spec's "Basic Dual-WAN" config exactly as written: two DHCP WANs and a failover group, no
# health checks, so the carrier alone decides (a WAN without a check is judged by carrier only).
# The primary's cable is pulled at 30s and plugged back at 60s.
#
# Carrier changes reach the core at the instant they happen, so every event is at exactly 30s or
# 60s: no probe rounds to wait for. Connections opened at 30s itself already use eth1 (a fault at
# an instant is in place before that instant's traffic).

scenario "basic-dual-wan" {
  description = "The spec's basic dual-WAN config: the primary's cable is pulled at 30s, plugged back at 60s."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 1
}

# Primary WAN
interface "eth0" {
  zone = "WAN"
  dhcp = true

  # Mark this as a WAN for multi-WAN system
  wan {
    priority = 1  # Lower = preferred
    weight   = 1  # For load balancing
  }
}

# Secondary WAN
interface "eth1" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 2  # Failover target
    weight   = 1
  }
}

uplink_group "default" {
  # Failover mode: use primary until it fails
  mode = "failover"

  member "eth0" {
    priority = 1
  }

  member "eth1" {
    priority = 2
  }
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { carrier = false }
}

at "60s" {
  link "eth0" { carrier = true }
}

expect "primary down at once" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "29.999s"
  before = "30s"
}

expect "failover at once" {
  event  = "failover"
  uplink = "eth1"
  after  = "29.999s"
  before = "30s"
}

expect "failback at once" {
  event  = "failback"
  uplink = "eth0"
  after  = "59.999s"
  before = "60s"
}

expect "primary carries everything first" {
  share  = "eth0"
  before = "29.999s"
  min    = 1.0
}

expect "secondary while unplugged" {
  share  = "eth1"
  after  = "29.999s"
  before = "59.999s"
  min    = 1.0
}

expect "primary again" {
  share = "eth0"
  after = "59.999s"
  min   = 1.0
}
