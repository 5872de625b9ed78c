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
The secret keys every service's Deployment reads, whatever its database.
*/}}
{{- define "causerie.serviceSecretKeys" -}}
{{- list "CAUSERIE_AMQP_URL" "CAUSERIE_REDIS_URL" "CAUSERIE_SMTP_URL" "CAUSERIE_BOOTSTRAP_STAFF_PASSWORD" "CAUSERIE_SERVICE_SECRET" | toJson }}
{{- end }}

{{/*
The services with a database, as the binary knows them (not .Values.services: disabling a Deployment does
not stop `causerie migrate` from migrating its database, nor its roles from needing a password).
*/}}
{{- define "causerie.databaseServices" -}}
{{- list "accounts" "assistant" "live-chat" "forms-analytics" "retention" | toJson }}
{{- end }}

{{/*
Password keys of one service's database roles: its application role and its outbox relay's, plus the
mailer's for accounts. Call with the service name; the gateway has no database, so none. Each Deployment
gets only its own, so a compromised pod cannot sign in as another service.
*/}}
{{- define "causerie.databaseRoleKeys" -}}
{{- $keys := list }}
{{- if has . (include "causerie.databaseServices" . | fromJsonArray) }}
{{- $env := include "causerie.envName" . }}
{{- $keys = list (printf "CAUSERIE_%s_DATABASE_PASSWORD" $env) (printf "CAUSERIE_%s_RELAY_DATABASE_PASSWORD" $env) }}
{{- if eq . "accounts" }}
{{- $keys = append $keys "CAUSERIE_ACCOUNTS_MAILER_DATABASE_PASSWORD" }}
{{- end }}
{{- end }}
{{- $keys | toJson }}
{{- end }}

{{/*
Every role's password key: what `causerie migrate` needs to create the roles and set their passwords.
*/}}
{{- define "causerie.allDatabaseRoleKeys" -}}
{{- $keys := list }}
{{- range $service := include "causerie.databaseServices" . | fromJsonArray }}
{{- $keys = concat $keys (include "causerie.databaseRoleKeys" $service | fromJsonArray) }}
{{- end }}
{{- $keys | toJson }}
{{- end }}

{{/*
The keys of the chart's own Secret, the one the Deployments read. The owner's CAUSERIE_DATABASE_URL is not
among them: only the migrate hook needs it, so it lives only in the hook's Secret, deleted once the hooks
succeed.
*/}}
{{- define "causerie.secretKeys" -}}
{{- concat (include "causerie.serviceSecretKeys" . | fromJsonArray) (include "causerie.allDatabaseRoleKeys" . | fromJsonArray) | toJson }}
{{- end }}

{{/*
The keys of the migrate hook's Secret: the owner role's server URL and every role's password.
*/}}
{{- define "causerie.migrateSecretKeys" -}}
{{- prepend (include "causerie.allDatabaseRoleKeys" . | fromJsonArray) "CAUSERIE_DATABASE_URL" | toJson }}
{{- end }}

{{/*
Refuses to render the chart's Secrets while they would hold a placeholder from values.yaml (a chart that
installs with `change-me` runs in production with a password anyone can read in the chart), an empty value,
or a service secret or role password shorter than 16 characters. Every problem is listed at once, so one
retry is enough.
*/}}
{{- define "causerie.checkSecrets" -}}
{{- if not .Values.secrets.existingSecret }}
{{- $problems := list }}
{{- $keys := include "causerie.secretKeys" . | fromJsonArray }}
{{- /* The owner URL is written only for the migrate hook; without it, the chart has no use for the value. */}}
{{- if .Values.migrate.enabled }}
{{- $keys = prepend $keys "CAUSERIE_DATABASE_URL" }}
{{- end }}
{{- /* The services refuse a shorter service secret at start-up (crates/runtime config); a role password is
as good as the service secret at reaching the data. Fail here, before the install. */}}
{{- $long := append (include "causerie.allDatabaseRoleKeys" . | fromJsonArray) "CAUSERIE_SERVICE_SECRET" }}
{{- range $key := $keys }}
{{- $value := index $.Values.secrets.values $key | default "" | toString }}
{{- if not $value }}
{{- $problems = append $problems (printf "secrets.values.%s is required" $key) }}
{{- else if regexMatch "(?i)change-?me" $value }}
{{- $problems = append $problems (printf "secrets.values.%s is still the placeholder from values.yaml" $key) }}
{{- else if and (has $key $long) (lt (len $value) 16) }}
{{- $problems = append $problems (printf "secrets.values.%s must be at least 16 characters" $key) }}
{{- end }}
{{- end }}
{{- if $problems }}
{{- fail (printf "refusing to render with missing, placeholder or short secrets:\n  - %s\nSet secrets.existingSecret to a Secret you manage (recommended), or give each of these a real value, e.g. --set secrets.values.CAUSERIE_ACCOUNTS_DATABASE_PASSWORD=$(openssl rand -hex 32)" (join "\n  - " $problems)) }}
{{- end }}
{{- end }}
{{- end }}
