scenario "limits" {
  duration = "720h"
  seed     = 9007199254740991
}
interface "eth0" {
  wan {}
  health_check {
    interval = "1h"
    timeout  = "1h"
  }
}
link "eth0" {
  latency = "1m"
  jitter  = "1m"
  loss    = 100
}
traffic "lan" {
  source_count = 65536
  rate         = 0.001
  start        = "0s"
  stop         = "720h"
}
at "1s" {
  link "eth0" { carrier = false }
  maintenance "eth0" { enabled = true }
  force "default" { uplink = "eth0" }
}
expect "e" {
  event = "all_down"
  count = 0
}
