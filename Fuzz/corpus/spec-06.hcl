uplink_group "balanced" {
  mode = "balance"

  # Hash by source IP for sticky sessions
  sticky = true
  sticky_timeout = "1h"

  member "eth0" { weight = 1 }
  member "eth1" { weight = 1 }
}
