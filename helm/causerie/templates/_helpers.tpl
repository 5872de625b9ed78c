{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "causerie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified release name. Service names append "-<service>", so keep room for the longest
("-forms-analytics", 16 characters).
*/}}
{{- define "causerie.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "causerie.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "causerie.labels" -}}
helm.sh/chart: {{ include "causerie.chart" . }}
{{ include "causerie.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: causerie
{{- end }}

{{- define "causerie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "causerie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one service's objects. Call with (dict "root" $ "service" "accounts").
*/}}
{{- define "causerie.serviceLabels" -}}
{{ include "causerie.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "causerie.serviceSelectorLabels" -}}
{{ include "causerie.selectorLabels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/*
Kubernetes name of one service's Deployment and Service: "<fullname>-<service>".
*/}}
{{- define "causerie.serviceName" -}}
{{- printf "%s-%s" (include "causerie.fullname" .root) .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Environment-variable stem of a service name: live-chat -> LIVE_CHAT.
*/}}
{{- define "causerie.envName" -}}
{{- . | replace "-" "_" | upper }}
{{- end }}

{{- define "causerie.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "causerie.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "causerie.fullname" . }}
{{- end }}
{{- end }}

{{- define "causerie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "causerie.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The secret keys every service reads.
*/}}
{{- define "causerie.secretKeys" -}}
{{- list "CAUSERIE_DATABASE_URL" "CAUSERIE_DATABASE_APP_PASSWORD" "CAUSERIE_AMQP_URL" "CAUSERIE_REDIS_URL" "CAUSERIE_SMTP_URL" "CAUSERIE_BOOTSTRAP_STAFF_PASSWORD" "CAUSERIE_SERVICE_SECRET" | toJson }}
{{- end }}

{{/*
Refuses to render the chart's own Secret while it would hold a placeholder from values.yaml: a chart that
installs with `change-me` runs in production with a password anyone can read in the chart. Every problem is
listed at once, so one retry is enough.
*/}}
{{- define "causerie.checkSecrets" -}}
{{- if not .Values.secrets.existingSecret }}
{{- $problems := list }}
{{- range $key := include "causerie.secretKeys" . | fromJsonArray }}
{{- $value := index $.Values.secrets.values $key | default "" | toString }}
{{- if regexMatch "(?i)change-?me" $value }}
{{- $problems = append $problems (printf "secrets.values.%s is still the placeholder from values.yaml" $key) }}
{{- end }}
{{- end }}
{{- /* The services refuse a shorter one at start-up (crates/runtime config); fail here, before the install. */}}
{{- $serviceSecret := index .Values.secrets.values "CAUSERIE_SERVICE_SECRET" | default "" | toString }}
{{- if and $serviceSecret (lt (len $serviceSecret) 16) }}
{{- $problems = append $problems "secrets.values.CAUSERIE_SERVICE_SECRET must be at least 16 characters" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "refusing to render with placeholder secrets:\n  - %s\nSet secrets.existingSecret to a Secret you manage (recommended), or give each of these a real value, e.g. --set secrets.values.CAUSERIE_SERVICE_SECRET=$(openssl rand -hex 32)" (join "\n  - " $problems)) }}
{{- end }}
{{- end }}
{{- end }}
