# The spec's "LTE Backup" example exactly as written: a wired primary and an LTE modem (usb0) with
# priority 10, whose interface-level health_check is "more aggressive" (every 10s, down after 2
# failed rounds, up after 3 good ones; targets default to 1.1.1.1 and 8.8.8.8, timeout to 2s).
# The primary has no health check, so it gets the built-in default (ICMP to 1.1.1.1 and 8.8.8.8
# every 5s, down after 3 failed rounds, up after 2 good ones). No uplink_group: the WANs form the
# implicit failover group "default" ordered by priority. LTE is slow and a little lossy.
#
# 30s: the primary's cable is pulled -> usb0 takes over at once. 60s: plugged back -> eth0 returns
#   after good rounds at 60s and 65s (replies after 10ms): 65.010s; window (65s, 65.010s].
# 80s: the LTE link black-holes while idle. Math: rounds at 80s and 90s fail -> usb0 down at
#   90s + 2s = 92s; window (90s, 102s]. 2% loss on two targets never fails a round by itself
#   (both probes would have to be lost).
# 100s: LTE repaired: good rounds at 100s, 110s, 120s -> up at 120s + 60..90ms; window (120s, 131s].

scenario "lte-backup" {
  description = "LTE (usb0) backs up a wired primary; its own failure is noticed while it idles."
  duration    = "140s"
  lab_duration = "14s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 11
}

interface "eth0" {
  zone = "WAN"
  dhcp = true

  wan { priority = 1 }
}

# LTE USB modem appears as eth1 or usb0
interface "usb0" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 10  # Only use when primary is down
  }

  health_check {
    # More aggressive checks for backup
    interval       = "10s"
    threshold_down = 2
    threshold_up   = 3
  }
}

link "usb0" {
  latency = "60ms"
  jitter  = "30ms"
  loss    = 2
}

traffic "lan" {
  source_count = 4
  rate         = 10
}

at "30s" {
  link "eth0" { carrier = false }
}

at "60s" {
  link "eth0" { carrier = true }
}

at "80s" {
  link "usb0" { blackhole = true }
}

at "100s" {
  link "usb0" { blackhole = false }
}

expect "LTE idle while the primary works" {
  share  = "usb0"
  before = "29.999s"
  max    = 0.0
}

expect "LTE takes over at once" {
  event  = "failover"
  uplink = "usb0"
  after  = "29.999s"
  before = "30s"
}

expect "LTE carries the outage" {
  share  = "usb0"
  after  = "29.999s"
  before = "59.999s"
  min    = 1.0
}

expect "primary back" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "65.010s"
}

expect "LTE never fails while in use" {
  event  = "wan_down"
  uplink = "usb0"
  before = "80s"
  count  = 0
}

expect "idle LTE failure noticed" {
  event  = "wan_down"
  uplink = "usb0"
  after  = "90s"
  before = "102s"
}

expect "LTE recovery after three good rounds" {
  event  = "wan_up"
  uplink = "usb0"
  after  = "120s"
  before = "131s"
}
