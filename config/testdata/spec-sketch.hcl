teleport {
  addr             = "teleport.example.com:443"
  identity         = "/var/lib/pagergate/identity"
  refresh_identity = true
  # or client_crt / client_key / root_cas
  approval_mode    = "auto" # review | set_state | auto (§4)
}

pager "pagerduty" { # or: pager "fake" { ... } for staging
  api_key    = env("PAGERDUTY_API_KEY")
  user_email = "teleport-bot@example.com"
  # api_endpoint = "https://api.eu.pagerduty.com"
  notify_service_annotation = "pagerduty_notify_service"
  services_annotation       = "pagerduty_services"
  # default_notify_service  = "Teleport Access Requests"

  auto_approve {
    enabled              = true
    max_escalation_level = 0 # 0 = any level
  }
}

store "bbolt" {
  path = "/var/lib/pagergate/state.db"
}

webhook {
  listen_addr     = ":8443"
  public_addr     = "https://pagergate.example.com:8443"
  signing_secrets = [env("PAGERDUTY_WEBHOOK_SECRET")]

  tls {
    cert_file      = "/var/lib/pagergate/server.crt"
    key_file       = "/var/lib/pagergate/server.key"
    client_ca_file = "/var/lib/pagergate/pagerduty-ca.pem"
  }
}

log {
  output   = "stderr"
  severity = "info"
  format   = "text"
}
