# Seed: HTTP and HTTPS checks with a CA file, fast re-probing, standby, quality thresholds.
interface "eth0" {
  zone = "WAN"
  dhcp = true
  wan { priority = 1 }
  health_check {
    url               = "https://192.0.2.10:8443/health"
    ca_file           = "/etc/flywall/ca.pem"
    expected_status   = 204
    interval          = "5s"
    timeout           = "300ms"
    failure_interval  = "500ms"
    recovery_interval = "1s"
    threshold_down    = 3
    threshold_up      = 2
    window            = 20
    max_latency       = "150ms"
    recover_latency   = "100ms"
    max_loss          = 10
    recover_loss      = 5
  }
}

interface "eth1" {
  zone = "WAN"
  dhcp = true
  wan { priority = 2 }
  health_check {
    type             = "http"
    url              = "http://[2001:db8::10]/"
    standby_interval = "30s"
  }
}

interface "lte0" {
  zone = "WAN"
  dhcp = true
  wan { priority = 3 }
  health_check {
    type    = "passive"
    targets = ["192.0.2.1"]
  }
}

uplink_group "default" {
  mode     = "failover"
  all_down = "unreachable"
  member "eth0" { priority = 1 }
  member "eth1" { priority = 2 }
  member "lte0" { priority = 3 }
}
