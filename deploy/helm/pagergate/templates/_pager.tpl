{{/*
Pager kinds. Each kind KIND defines three templates:
  pagergate.pager.KIND           its pager "KIND" { ... } block
  pagergate.pager.KIND.env       the pod's environment variables it needs
  pagergate.pager.KIND.validate  fail on missing required values
and has its values under pager.KIND. A new kind adds those three
templates here, its values block in values.yaml, its name to pager.kind's
enum in values.schema.json, and a ci/ values file the chart tests pick up
(as opsgenie did, SPEC §16).
*/}}

{{/* Keys every kind shares (the same pager ports serve them all). */}}
{{- define "pagergate.pager.common" -}}
{{- $p := .Values.pager -}}
{{- with $p.notifyServiceAnnotation }}
  notify_service_annotation = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.servicesAnnotation }}
  services_annotation = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.defaultNotifyService }}
  default_notify_service = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.urgency }}
  urgency = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.priority }}
  priority = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.rateLimit }}
  rate_limit = {{ int . }}
{{- end }}
{{- with $p.requestTimeout }}
  request_timeout = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $p.cacheTTL }}
  cache_ttl = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- end -}}

{{/* The on-call approval policy: a top-level block, whatever the kind. */}}
{{- define "pagergate.autoApprove" -}}
{{- $a := .Values.pager.autoApprove -}}
auto_approve {
  enabled                 = {{ $a.enabled }}
  max_escalation_level    = {{ int $a.maxEscalationLevel }}
  require_active_incident = {{ $a.requireActiveIncident }}
  bind_to_shift           = {{ $a.bindToShift }}
  allowed_roles           = {{ include "pagergate.hcl.list" $a.allowedRoles }}
  denied_roles            = {{ include "pagergate.hcl.list" $a.deniedRoles }}
  user_map = {
{{- range $user, $email := $a.userMap }}
    {{ include "pagergate.hcl.string" $user }} = {{ include "pagergate.hcl.string" $email }}
{{- end }}
  }
}
{{- end -}}

{{/* pager "pagerduty": the PagerDuty REST API. */}}
{{- define "pagergate.pager.pagerduty" -}}
pager "pagerduty" {
  api_key    = env("PAGERDUTY_API_KEY")
  user_email = {{ include "pagergate.hcl.string" .Values.pager.userEmail }}
{{- with .Values.pager.pagerduty.apiEndpoint }}
  api_endpoint = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- include "pagergate.pager.common" . }}
}
{{- end -}}

{{- define "pagergate.pager.pagerduty.env" -}}
- name: PAGERDUTY_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.pager.pagerduty.apiKeySecret.name }}
      key: {{ .Values.pager.pagerduty.apiKeySecret.key }}
{{- end -}}

{{- define "pagergate.pager.pagerduty.validate" -}}
{{- if not .Values.pager.pagerduty.apiKeySecret.name -}}
{{- fail "pagergate: pager.pagerduty.apiKeySecret.name is required with pager.kind=pagerduty: the Secret holding the PagerDuty REST API key." -}}
{{- end -}}
{{- if not .Values.pager.userEmail -}}
{{- fail "pagergate: pager.userEmail is required with pager.kind=pagerduty: the PagerDuty user incidents are opened as." -}}
{{- end -}}
{{- end -}}

{{/* pager "fake": the fake PagerDuty inside the pod, for staging. */}}
{{- define "pagergate.pager.fake" -}}
{{- $f := .Values.pager.fake -}}
pager "fake" {
  listen_addr = {{ include "pagergate.hcl.string" $f.listenAddr }}
{{- with .Values.pager.userEmail }}
  user_email = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- include "pagergate.pager.common" . }}
{{- range $f.users }}

  user {{ include "pagergate.hcl.string" .email }} {
{{- with get . "name" }}
    name = {{ include "pagergate.hcl.string" . }}
{{- end }}
  }
{{- end }}
{{- range $f.services }}

  service {{ include "pagergate.hcl.string" .name }} {
{{- with get . "id" }}
    id = {{ include "pagergate.hcl.string" . }}
{{- end }}
  }
{{- end }}
{{- range $f.onCalls }}

  on_call {
    user    = {{ include "pagergate.hcl.string" .user }}
    service = {{ include "pagergate.hcl.string" .service }}
{{- with get . "level" }}
    level   = {{ int . }}
{{- end }}
  }
{{- end }}
}
{{- end -}}

{{- define "pagergate.pager.fake.env" -}}
{{- end -}}

{{- define "pagergate.pager.fake.validate" -}}
{{- end -}}

{{/* pager "opsgenie": Opsgenie's REST API (SPEC §16). */}}
{{- define "pagergate.pager.opsgenie" -}}
{{- $o := .Values.pager.opsgenie -}}
pager "opsgenie" {
  api_key = env("OPSGENIE_API_KEY")
{{- with $o.apiURL }}
  api_url = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.webURL }}
  web_url = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.teamsAnnotation }}
  teams_annotation = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.alertUser }}
  alert_user = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.source }}
  source = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.tags }}
  tags = {{ include "pagergate.hcl.list" . }}
{{- end }}
{{- with $o.aliasPrefix }}
  alias_prefix = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.approveAction }}
  approve_action = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $o.denyAction }}
  deny_action = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- include "pagergate.pager.common" . }}
}
{{- end -}}

{{- define "pagergate.pager.opsgenie.env" -}}
- name: OPSGENIE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.pager.opsgenie.apiKeySecret.name }}
      key: {{ .Values.pager.opsgenie.apiKeySecret.key }}
{{- end -}}

{{/*
Opsgenie's webhook integration signs nothing and presents no client
certificate: it authenticates with basic auth or a custom header, and its
custom actions are put on the alerts, not provisioned.
*/}}
{{- define "pagergate.pager.opsgenie.validate" -}}
{{- $v := .Values -}}
{{- if not $v.pager.opsgenie.apiKeySecret.name -}}
{{- fail "pagergate: pager.opsgenie.apiKeySecret.name is required with pager.kind=opsgenie: the Secret holding the key of an Opsgenie API integration." -}}
{{- end -}}
{{- if $v.pager.urgency -}}
{{- fail "pagergate: pager.urgency is PagerDuty's; Opsgenie alerts have a priority (pager.priority, P1 to P5)." -}}
{{- end -}}
{{- if $v.webhook.enabled -}}
{{- if or $v.webhook.signingSecrets $v.webhook.tls.clientCASecretName $v.webhook.provisionActions $v.webhook.approveWorkflow $v.webhook.denyWorkflow -}}
{{- fail "pagergate: with pager.kind=opsgenie the webhook takes Opsgenie's webhook integration: authenticate it with webhook.basicAuth or webhook.sharedSecret (Opsgenie sends them as custom headers); webhook.signingSecrets, webhook.tls.clientCASecretName, webhook.provisionActions and the workflows are PagerDuty's." -}}
{{- end -}}
{{- end -}}
{{- end -}}
