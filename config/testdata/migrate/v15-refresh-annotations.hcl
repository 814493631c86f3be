# pagergate configuration migrated from teleport-pagerduty.toml.
# `pagergate configure` shows every key with its default.

teleport {
  addr             = "teleport.example.com:443"
  identity         = "/opt/machine-id/identity"
  refresh_identity = true
}

pager "pagerduty" {
  api_key                   = env("PAGERDUTY_API_KEY")
  user_email                = "me@example.com"
  notify_service_annotation = "oncall_notify"
  services_annotation       = "oncall_services"
}

log {
  output   = "/var/lib/teleport/pagerduty.log"
  severity = "debug"
}
