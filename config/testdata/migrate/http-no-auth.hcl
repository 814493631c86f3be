# pagergate configuration migrated from teleport-pagerduty.toml,
# a file of the reference plugin's annotation generation (pagerduty_notify_service, pagerduty_services).
# `pagergate configure` shows every key with its default.

teleport {
  addr     = "teleport.example.com:443"
  identity = "/var/lib/teleport/plugins/pagerduty/auth.pem"
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
  listen_addr       = ":8081"
  public_addr       = "https://teleport-pagerduty.internal.example.com"
  provision_actions = true
  signing_secrets   = [env("PAGERDUTY_WEBHOOK_SECRET")]
  tls {
    cert_file = "/var/lib/teleport/plugins/pagerduty/server.crt"
    key_file  = "/var/lib/teleport/plugins/pagerduty/server.key"
  }
}
