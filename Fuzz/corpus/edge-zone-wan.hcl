interface "eth0" {
  zone = "WAN"
  dhcp = true
}
interface "eth1" {
  zone = "wan"
  health_check { type = "passive" }
}
uplink_group "default" {
  member "eth0" { priority = 1 }
  member "eth1" {
    priority = 2
    weight   = 3
  }
}
