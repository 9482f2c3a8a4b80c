scenario "passive" { duration = "120s" }
interface "eth0" {
  wan { priority = 1 }
  health_check {
    type           = "passive"
    targets        = ["192.0.2.1"]
    interval       = "1s"
    threshold_down = 1
    threshold_up   = 1
  }
}
interface "eth1" {
  wan { priority = 2 }
}
traffic "lan" {
  rate = 50
  dest_port = 443
  destination = ["203.0.113.7"]
}
at "10s" {
  link "eth0" { blackhole = true }
}
at "20s" {
  link "eth0" {
    blackhole   = false
    unreachable = ["192.0.2.1"]
  }
}
expect "back" { event = "wan_up" }
