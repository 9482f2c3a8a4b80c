/// Every HCL snippet of the user's page (spec/multi-wan-failover.md), verbatim, in page order.
enum SpecSnippets {
    static let basicDualWAN = """
        # Primary WAN
        interface "eth0" {
          zone = "WAN"
          dhcp = true

          # Mark this as a WAN for multi-WAN system
          wan {
            priority = 1  # Lower = preferred
            weight   = 1  # For load balancing
          }
        }

        # Secondary WAN
        interface "eth1" {
          zone = "WAN"
          dhcp = true

          wan {
            priority = 2  # Failover target
            weight   = 1
          }
        }
        """

    static let uplinkGroups = """
        uplink_group "default" {
          # Failover mode: use primary until it fails
          mode = "failover"

          member "eth0" {
            priority = 1
          }

          member "eth1" {
            priority = 2
          }
        }
        """

    static let healthChecks = """
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
        """

    static let httpHealthCheck = """
        health_check {
          type = "http"
          url  = "http://connectivitycheck.gstatic.com/generate_204"

          # Expect HTTP 204
          expected_status = 204

          interval       = "10s"
          threshold_down = 2
        }
        """

    static let loadBalancing = """
        uplink_group "balanced" {
          mode = "balance"

          member "eth0" {
            weight = 2  # Gets 2/3 of traffic
          }

          member "eth1" {
            weight = 1  # Gets 1/3 of traffic
          }
        }
        """

    static let stickySessions = """
        uplink_group "balanced" {
          mode = "balance"

          # Hash by source IP for sticky sessions
          sticky = true
          sticky_timeout = "1h"

          member "eth0" { weight = 1 }
          member "eth1" { weight = 1 }
        }
        """

    static let policyRouting = """
        # Work VPN always through primary WAN
        policy_route "work-vpn" {
          match {
            protocol  = "udp"
            dest_port = ["1194"]  # OpenVPN
          }

          uplink = "eth0"
        }

        # Video streaming through secondary (if it's faster)
        policy_route "streaming" {
          match {
            destination = ["@streaming_services"]  # IPSet
          }

          uplink = "eth1"
        }

        # Gaming always through low-latency connection
        policy_route "gaming" {
          match {
            source    = ["192.168.1.50"]  # Gaming PC
            protocol  = "udp"
          }

          uplink = "eth0"
        }
        """

    static let cableDSL = """
        interface "eth0" {
          zone = "WAN"
          dhcp = true  # Cable modem

          wan {
            priority  = 1
            bandwidth = "100Mbps"  # For QoS calculations
          }
        }

        interface "eth1" {
          zone = "WAN"

          # DSL with PPPoE
          pppoe {
            username = "user@isp.com"
            password = "secret"
          }

          wan {
            priority  = 2
            bandwidth = "20Mbps"
          }
        }
        """

    static let lteBackup = """
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
        """

    static let notifications = """
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
        """

    static let troubleshootMode = """
        mode = "balance"  # Not "failover"
        """

    static let troubleshootInterval = """
        interval = "2s"
        threshold_down = 2
        """

    static let troubleshootTargets = """
        targets = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
        """

    static let all: [(name: String, source: String)] = [
        ("basicDualWAN", basicDualWAN),
        ("uplinkGroups", uplinkGroups),
        ("healthChecks", healthChecks),
        ("httpHealthCheck", httpHealthCheck),
        ("loadBalancing", loadBalancing),
        ("stickySessions", stickySessions),
        ("policyRouting", policyRouting),
        ("cableDSL", cableDSL),
        ("lteBackup", lteBackup),
        ("notifications", notifications),
        ("troubleshootMode", troubleshootMode),
        ("troubleshootInterval", troubleshootInterval),
        ("troubleshootTargets", troubleshootTargets),
    ]
}
