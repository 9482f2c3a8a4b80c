/* block comment */ interface eth0 { # bare label
  zone = <<EOT
  WAN ${x} %{y}
EOT
  wan { priority = -0 }
  list = [1, -2.5e3, "\u00e9\U0001F600", null, true, {a = 1, "b c" = [x]}]
}
