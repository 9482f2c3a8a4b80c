health_check {
  type = "http"
  url  = "http://connectivitycheck.gstatic.com/generate_204"

  # Expect HTTP 204
  expected_status = 204

  interval       = "10s"
  threshold_down = 2
}
