# pagergate configuration migrated from teleport-pagerduty.toml.
# `pagergate configure` shows every key with its default.

teleport {
  addr       = "localhost:3025"
  client_crt = "/var/lib/teleport/plugins/pagerduty/auth.crt"
  client_key = "/var/lib/teleport/plugins/pagerduty/auth.key"
  root_cas   = "/var/lib/teleport/plugins/pagerduty/auth.cas"
}

pager "pagerduty" {
  api_key    = env("PAGERDUTY_API_KEY")
  user_email = "me@example.com"
}
