# pagergate configuration migrated from teleport-pagerduty.toml.
# `pagergate configure` shows every key with its default.

teleport {
  addr     = "teleport.example.com:443"
  identity = "/var/lib/teleport/plugins/pagerduty/auth.pem"
}

pager "pagerduty" {
  api_key    = env("PAGERDUTY_API_KEY")
  user_email = "me@example.com"
}
