# pagergate configuration migrated from teleport-pagerduty.toml,
# a file of the reference plugin's first generation (service_id, auto_approve).
# `pagergate configure` shows every key with its default.

teleport {
  addr       = "example.com:3025"
  client_crt = "/var/lib/teleport/plugins/pagerduty/auth.crt"
  client_key = "/var/lib/teleport/plugins/pagerduty/auth.key"
  root_cas   = "/var/lib/teleport/plugins/pagerduty/auth.cas"
}

pager "pagerduty" {
  api_key                = env("PAGERDUTY_API_KEY")
  user_email             = "me@example.com"
  default_notify_service = "PIJ90N7"
}

auto_approve {
  # Off, as the reference was without auto_approve = true; pagergate's default is on.
  enabled = false
}

webhook {
  listen_addr       = ":8081"
  public_addr       = "https://example.com"
  provision_actions = true
  basic_auth {
    user     = "user"
    password = env("PAGERGATE_WEBHOOK_PASSWORD")
  }
  tls {
    cert_file = "/var/lib/teleport/plugins/pagerduty/server.crt"
    key_file  = "/var/lib/teleport/plugins/pagerduty/server.key"
  }
}

log {
  output   = "stderr"
  severity = "info"
}
