# Seed (rejected on purpose): two balance groups of 1000:23 need 2,046 hash slots, the dataplane
# has 1,023; the decoder reports it at the second group.
interface "eth0" {
  wan { weight = 1000 }
}
interface "eth1" {
  wan { weight = 23 }
}
uplink_group "a" {
  mode = "balance"
  member "eth0" {}
  member "eth1" {}
}
uplink_group "b" {
  mode   = "balance"
  sticky = true
  member "eth0" {}
  member "eth1" {}
}
