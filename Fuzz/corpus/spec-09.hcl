interface "eth0" {
  zone = "WAN"
  dhcp = true

  wan { priority = 1 }
}

# LTE USB modem appears as eth1 or usb0
interface "usb0" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 10  # Only use when primary is down
  }

  health_check {
    # More aggressive checks for backup
    interval       = "10s"
    threshold_down = 2
    threshold_up   = 3
  }
}
