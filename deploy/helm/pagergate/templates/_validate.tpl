{{/*
Checks the chart needs before it can render coherent objects. pagergate
itself validates the rendered configuration at start (exit code 2 with the
file, line and column); these catch missing Secrets and the like at
`helm install` time.
*/}}
{{- define "pagergate.validate" -}}
{{- $v := .Values -}}
{{- if not $v.teleport.address -}}
{{- fail "pagergate: teleport.address is required: the Teleport Auth Service (host:3025) or Proxy Service (host:443) address." -}}
{{- end -}}
{{- if not $v.teleport.identitySecretName -}}
{{- fail "pagergate: teleport.identitySecretName is required: the Secret holding the plugin's identity file (written by tbot, or kubectl create secret generic --from-file=identity)." -}}
{{- end -}}
{{- include (printf "pagergate.pager.%s.validate" $v.pager.kind) . -}}
{{- if $v.webhook.enabled -}}
{{- if not $v.webhook.tls.secretName -}}
{{- fail "pagergate: webhook.tls.secretName is required with the webhook (pagergate serves HTTPS only): a kubernetes.io/tls Secret; or set webhook.enabled=false." -}}
{{- end -}}
{{- if not (or $v.webhook.signingSecrets $v.webhook.tls.clientCASecretName $v.webhook.basicAuth.user $v.webhook.sharedSecret.header) -}}
{{- fail "pagergate: the webhook needs authentication: set webhook.signingSecrets, webhook.tls.clientCASecretName (mutual TLS), webhook.basicAuth or webhook.sharedSecret." -}}
{{- end -}}
{{- range $i, $s := $v.webhook.signingSecrets -}}
{{- if not (and $s.name $s.key) -}}
{{- fail (printf "pagergate: webhook.signingSecrets[%d] needs a name and a key." $i) -}}
{{- end -}}
{{- end -}}
{{- if and $v.webhook.sharedSecret.header (not $v.webhook.sharedSecret.name) -}}
{{- fail "pagergate: webhook.sharedSecret.name is required with webhook.sharedSecret.header: the Secret holding the shared secret." -}}
{{- end -}}
{{- if and $v.webhook.basicAuth.user (not $v.webhook.basicAuth.name) -}}
{{- fail "pagergate: webhook.basicAuth.name is required with webhook.basicAuth.user: the Secret holding the password." -}}
{{- end -}}
{{- end -}}
{{- end -}}
