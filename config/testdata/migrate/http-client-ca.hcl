# pagergate configuration migrated from teleport-pagerduty.toml,
# a file of the reference plugin's annotation generation (pagerduty_notify_service, pagerduty_services).
# `pagergate configure` shows every key with its default.

teleport {
  addr       = "teleport.example.com:3025"
  client_crt = "/etc/teleport-pagerduty/auth.crt"
  client_key = "/etc/teleport-pagerduty/auth.key"
  root_cas   = "/etc/teleport-pagerduty/auth.cas"
}

pager "pagerduty" {
  api_key    = env("PAGERDUTY_API_KEY")
  user_email = "bot@example.com"
}

auto_approve {
  enabled = true
  # true: also require an incident assigned to the requester, as the reference's README generation did.
  require_active_incident = false
}

webhook {
  listen_addr       = "0.0.0.0:443"
  public_addr       = "https://teleport-pagerduty.example.com"
  provision_actions = true
  tls {
    cert_file      = "/etc/teleport-pagerduty/server.crt"
    key_file       = "/etc/teleport-pagerduty/server.key"
    client_ca_file = "/etc/teleport-pagerduty/pagerduty-ca.pem"
  }
}
