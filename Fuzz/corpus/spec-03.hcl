uplink_group "default" {
  mode = "failover"

  member "eth0" {
    priority = 1

    health_check {
      # Ping these targets
      targets = ["1.1.1.1", "8.8.8.8"]

      # Check every 5 seconds
      interval = "5s"

      # Mark down after 3 failures
      threshold_down = 3

      # Mark up after 2 successes
      threshold_up = 2

      # Timeout for each check
      timeout = "2s"
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets        = ["1.0.0.1", "8.8.4.4"]
      interval       = "5s"
      threshold_down = 3
      threshold_up   = 2
    }
  }
}
