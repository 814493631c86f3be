# Seed of the fake PagerDuty (HCL): pagergate fake-pagerduty --seed fake-pagerduty-seed.hcl
# The same world as fake-pagerduty-seed.json.

# Users: the label is the email; name is optional (default: the email's local part).
user "pagergate@example.com" {
  name = "pagergate bot"
}
user "alice@example.com" {
  name = "Alice"
}
user "bob@example.com" {
  name = "Bob"
}

# Services: the label is the name; id is optional (default: generated).
# Each service gets an escalation policy of its own.
service "Teleport Access Requests" {
  id = "PTELEPO"
}
service "My Critical Service" {}

# bob is on call for My Critical Service at escalation level 1 (the default).
on_call {
  user    = "bob@example.com"
  service = "My Critical Service"
  level   = 1
}

# An incident already open, assigned to bob: what
# auto_approve.require_active_incident looks for.
incident {
  service   = "My Critical Service"
  title     = "Database latency"
  assignees = ["bob@example.com"]
}
