{{/* Object names, labels and the image reference. */}}

{{- define "pagergate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pagergate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The metrics Service's name: also the Prometheus job label. */}}
{{- define "pagergate.metricsName" -}}
{{- printf "%s-metrics" (include "pagergate.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "pagergate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pagergate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pagergate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "pagergate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pagergate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pagergate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pagergate.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Where the pod mounts things. The configuration refers to these paths; the
chart tests check every path in the rendered configuration lies under a
mount of the container.
*/}}
{{- define "pagergate.configDir" -}}/etc/pagergate{{- end -}}
{{- define "pagergate.identityDir" -}}/var/run/pagergate/teleport{{- end -}}
{{- define "pagergate.tlsDir" -}}/var/run/pagergate/webhook-tls{{- end -}}
{{- define "pagergate.clientCADir" -}}/var/run/pagergate/webhook-client-ca{{- end -}}
{{- define "pagergate.stateDir" -}}/var/lib/pagergate{{- end -}}
