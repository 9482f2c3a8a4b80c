notifications {
  # Email
  email {
    enabled = true
    smtp    = "smtp.gmail.com:587"
    to      = ["admin@example.com"]
    events  = ["wan_down", "wan_up", "failover"]
  }

  # Webhook
  webhook {
    enabled = true
    url     = "https://hooks.slack.com/services/xxx"
    events  = ["wan_down", "failover"]
  }
}
