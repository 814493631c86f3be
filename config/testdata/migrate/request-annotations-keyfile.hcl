# pagergate configuration migrated from teleport-pagerduty.toml.
# `pagergate configure` shows every key with its default.

teleport {
  addr             = "teleport.example.com:443"
  identity         = "/var/lib/teleport/plugins/pagerduty/teleport-identity/auth_id"
  refresh_identity = true
}

pager "pagerduty" {
  api_key                   = file("/var/lib/teleport/plugins/pagerduty/pagerduty_api_key")
  user_email                = "bot@example.com"
  notify_service_annotation = "pd_notify"
  services_annotation       = "pd_services"
}

log {
  output   = "stdout"
  severity = "warn"
}
