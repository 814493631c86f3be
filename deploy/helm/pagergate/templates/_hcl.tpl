{{/*
HCL literals. A string goes through JSON escaping (quotes, backslashes,
control characters) and then HCL's own template escapes ("${" and "%{"
start interpolations in HCL), so any value reads back as written.
*/}}
{{- define "pagergate.hcl.string" -}}
{{- toString . | toJson | replace "${" "$${" | replace "%{" "%%{" -}}
{{- end -}}

{{- define "pagergate.hcl.list" -}}
[{{- range $i, $s := . }}{{ if $i }}, {{ end }}{{ include "pagergate.hcl.string" $s }}{{ end -}}]
{{- end -}}
