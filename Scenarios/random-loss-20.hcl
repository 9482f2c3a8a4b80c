# Fault: 20% random packet loss on the primary for the rest of the run, checked with two targets and
# reliability 1 (the default). A round fails only when both probes are lost (4% of rounds), and the
# WAN goes down only after 3 such rounds in a row (about 1 in 16,000 at any point): the loss shows
# in status, but there is no failover. Without a max_loss threshold, loss alone is not a failure.

scenario "random-loss-20" {
  description = "eth0 loses 20% of packets from 30s; two targets keep it up: no failover."
  duration    = "300s"
  lab_duration = "30s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 13
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 5
}

at "30s" {
  link "eth0" { loss = 20 }
}

expect "eth0 never declared down" {
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
