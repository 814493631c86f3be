# pagergate configuration migrated from teleport-pagerduty.toml,
# a file of the reference plugin's annotation generation (pagerduty_notify_service, pagerduty_services).
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

auto_approve {
  enabled = true
  # true: also require an incident assigned to the requester, as the reference's README generation did.
  require_active_incident = false
}

log {
  output   = "stdout"
  severity = "warn"
}
