# Seed: a PPPoE WAN (the session device ppp-dsl0) beside a DHCP one, a sticky balance group.
interface "dsl0" {
  zone = "WAN"
  pppoe {
    username = "user@isp.example"
    password = "not-a-real-secret"
  }
  wan {
    priority  = 1
    weight    = 3
    bandwidth = "50Mbps"
  }
  health_check {
    targets        = ["192.0.2.1", "198.51.100.1"]
    interval       = "2s"
    reliability    = 2
    threshold_down = 2
  }
}

interface "eth1" {
  zone = "WAN"
  dhcp = true
  wan {
    priority  = 2
    bandwidth = "1.5Gbps"
  }
}

uplink_group "default" {
  mode           = "balance"
  sticky         = true
  sticky_timeout = "1d"
  member "dsl0" { weight = 3 }
  member "eth1" { weight = 1 }
}
