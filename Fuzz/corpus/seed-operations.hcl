# Seed: the operations blocks (api, history, ha_pair, notifications by email and webhook).
interface "eth0" {
  zone    = "WAN"
  address = "203.0.113.2/30"
  gateway = "203.0.113.1"
  wan { nat_address = "203.0.113.2" }
}

interface "eth1" {
  zone = "WAN"
  dhcp = true
  wan { priority = 2 }
}

api {
  listen = "[::1]:8080"
  token  = "0123456789abcdef0123"
}

history {
  retention  = "90d"
  max_events = 100000
}

ha_pair {
  role_file = "/run/flywall/ha-role"
}

notifications {
  coalesce = "30s"
  email {
    smtp     = "smtp.example.com:465"
    from     = "router@example.com"
    to       = ["a@example.com", "b@example.com"]
    events   = ["wan_down", "wan_up", "failover", "failback", "all_down"]
    username = "me"
    password = "pw-secret-1"
    ca_file  = "/etc/ssl/ca.pem"
  }
  email {
    smtp = "127.0.0.1:25"
    to   = ["ops@example.com"]
    tls  = "none"
  }
  webhook {
    url     = "https://hooks.example.com/abc/SECRETPATH"
    secret  = "hook-secret-2"
    events  = ["all_down"]
    enabled = true
  }
}
