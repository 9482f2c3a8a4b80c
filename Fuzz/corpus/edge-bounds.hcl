interface "eth0" {
  zone = "WAN"
  wan {
    priority = 1000
    weight   = 1000
  }
  health_check {
    targets        = ["192.0.2.1", "2001:db8::1"]
    interval       = "10ms"
    timeout        = "10ms"
    threshold_down = 100
    threshold_up   = 100
    window         = 1000
    max_latency    = "1h"
    max_loss       = 100
  }
}
interface "eth1" {
  wan { weight = 23 }
}
uplink_group "g" {
  mode           = "balance"
  sticky         = true
  sticky_timeout = "168h"
  member "eth0" {}
  member "eth1" {}
}
