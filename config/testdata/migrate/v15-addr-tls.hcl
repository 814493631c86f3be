# pagergate configuration migrated from teleport-pagerduty.toml,
# a file of the reference plugin's annotation generation (pagerduty_notify_service, pagerduty_services).
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

auto_approve {
  enabled = true
  # true: also require an incident assigned to the requester, as the reference's README generation did.
  require_active_incident = false
}
