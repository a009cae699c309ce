{{/*
The operator's name: its Deployment, ServiceAccount and roles. The admission
policies (admission.yaml) exempt system:serviceaccount:<namespace>:<this>.
*/}}
{{- define "modelregistry.operator" -}}
{{ .Release.Name }}-operator
{{- end }}

{{- define "modelregistry.selectorLabels" -}}
app.kubernetes.io/name: modelregistry
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "modelregistry.labels" -}}
{{ include "modelregistry.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "modelregistry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "modelregistry.leaseName" -}}
{{ .Values.leaderElection.leaseName | default (include "modelregistry.operator" .) }}
{{- end }}

{{/*
A number as the operator's settings parse it: values files hold numbers as
floats, which print large whole ones in exponent form (2.592e+06).
*/}}
{{- define "modelregistry.number" -}}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{/*
What values.schema.json says too, for installs that skip the schema
(--skip-schema-validation): a namespaced operator has Roles only where it is
told to look, so it must be told.
*/}}
{{- define "modelregistry.validate" -}}
{{- if eq .Values.rbac.scope "namespaced" }}
{{- if not .Values.watchNamespaces }}
{{- fail "watchNamespaces: rbac.scope namespaced needs at least one namespace to watch (each gets a Role; nothing is granted cluster-wide)" }}
{{- end }}
{{- range .Values.watchNamespaces }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .) }}
{{- fail (printf "watchNamespaces: %q: rbac.scope namespaced needs namespace names, not patterns (each gets a Role)" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
