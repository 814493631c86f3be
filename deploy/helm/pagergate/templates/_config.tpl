{{/* pagergate's HCL configuration (SPEC §9), rendered from the values. */}}
{{- define "pagergate.config" -}}
{{- $v := .Values -}}
# Rendered by the pagergate Helm chart from its values: edit the values,
# not this file. Secrets come from the environment (env), which the pod
# fills from Kubernetes Secrets.
{{- with $v.workers }}

workers = {{ int . }}
{{- end }}

teleport {
  addr             = {{ include "pagergate.hcl.string" $v.teleport.address }}
  identity         = {{ include "pagergate.hcl.string" (printf "%s/%s" (include "pagergate.identityDir" .) $v.teleport.identitySecretPath) }}
  refresh_identity = {{ $v.teleport.refreshIdentity }}
  approval_mode    = {{ include "pagergate.hcl.string" $v.teleport.approvalMode }}
{{- with $v.teleport.dialTimeout }}
  dial_timeout     = {{ include "pagergate.hcl.string" . }}
{{- end }}
}

{{ include (printf "pagergate.pager.%s" $v.pager.kind) . }}

{{ include "pagergate.autoApprove" . }}

store "bbolt" {
  path = {{ include "pagergate.hcl.string" (printf "%s/state.db" (include "pagergate.stateDir" .)) }}
{{- with $v.store.retention }}
  retention = {{ include "pagergate.hcl.string" . }}
{{- end }}
}
{{- if $v.webhook.enabled }}
{{- $w := $v.webhook }}

webhook {
  listen_addr = {{ include "pagergate.hcl.string" (printf ":%d" (int $w.port)) }}
{{- with $w.publicAddr }}
  public_addr = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- if $w.signingSecrets }}
  signing_secrets = [
{{- range $i, $s := $w.signingSecrets }}{{ if $i }}, {{ end }}env("PAGERDUTY_WEBHOOK_SECRET_{{ $i }}"){{ end -}}
]
{{- end }}
{{- if $w.sharedSecret.header }}
  shared_secret_header = {{ include "pagergate.hcl.string" $w.sharedSecret.header }}
  shared_secret        = env("PAGERGATE_SHARED_SECRET")
{{- end }}
{{- with $w.approvers }}
  approvers = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $w.onManualResolve }}
  on_manual_resolve = {{ include "pagergate.hcl.string" . }}
{{- end }}
  provision_actions = {{ $w.provisionActions }}
{{- with $w.approveWorkflow }}
  approve_workflow = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $w.denyWorkflow }}
  deny_workflow = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- with $w.replayWindow }}
  replay_window = {{ include "pagergate.hcl.string" . }}
{{- end }}
{{- if $w.basicAuth.user }}

  basic_auth {
    user     = {{ include "pagergate.hcl.string" $w.basicAuth.user }}
    password = env("PAGERGATE_WEBHOOK_PASSWORD")
  }
{{- end }}

  tls {
    cert_file = {{ include "pagergate.hcl.string" (printf "%s/tls.crt" (include "pagergate.tlsDir" .)) }}
    key_file  = {{ include "pagergate.hcl.string" (printf "%s/tls.key" (include "pagergate.tlsDir" .)) }}
{{- if $w.tls.clientCASecretName }}
    client_ca_file = {{ include "pagergate.hcl.string" (printf "%s/%s" (include "pagergate.clientCADir" .) $w.tls.clientCASecretKey) }}
{{- with $w.tls.allowedClientCNs }}
    allowed_client_cns = {{ include "pagergate.hcl.list" . }}
{{- end }}
{{- end }}
  }
}
{{- end }}

log {
  output   = "stderr"
  severity = {{ include "pagergate.hcl.string" $v.log.severity }}
  format   = {{ include "pagergate.hcl.string" $v.log.format }}
}

metrics {
  listen_addr = {{ include "pagergate.hcl.string" (printf ":%d" (int $v.metrics.port)) }}
}

memory {
  release_when_idle = {{ $v.memory.releaseWhenIdle }}
  idle_after        = {{ include "pagergate.hcl.string" $v.memory.idleAfter }}
}
{{ end -}}

{{/* Environment variables the configuration reads with env(). */}}
{{- define "pagergate.env" -}}
{{- $w := .Values.webhook -}}
{{- include (printf "pagergate.pager.%s.env" .Values.pager.kind) . }}
{{- if $w.enabled }}
{{- range $i, $s := $w.signingSecrets }}
- name: PAGERDUTY_WEBHOOK_SECRET_{{ $i }}
  valueFrom:
    secretKeyRef:
      name: {{ $s.name }}
      key: {{ $s.key }}
{{- end }}
{{- if $w.sharedSecret.header }}
- name: PAGERGATE_SHARED_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $w.sharedSecret.name }}
      key: {{ $w.sharedSecret.key }}
{{- end }}
{{- if $w.basicAuth.user }}
- name: PAGERGATE_WEBHOOK_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $w.basicAuth.name }}
      key: {{ $w.basicAuth.key }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
