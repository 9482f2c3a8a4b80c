# Fault: one of two health check targets stops answering. A round succeeds when at least
# `reliability` (default 1) targets answer, so 8.8.8.8 alone keeps eth0 up: no failover at all.
# The dead target still shows as 50% loss in eth0's status.

scenario "one-target-dead" {
  description = "1.1.1.1 stops answering eth0's probes at 30s; 8.8.8.8 still does, so nothing fails over."
  duration    = "120s"
  lab_duration = "12s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 3
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  source_count = 5
  rate         = 10
}

at "30s" {
  link "eth0" { unreachable = ["1.1.1.1"] }
}

expect "eth0 stays up" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 0
}

expect "no failover" {
  event = "failover"
  count = 0
}

expect "eth0 keeps all traffic" {
  share = "eth0"
  min   = 1.0
}
