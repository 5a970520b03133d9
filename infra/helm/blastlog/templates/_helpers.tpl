{{/* The chart's name, and the release's full name (63 characters at most). */}}
{{- define "blastlog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blastlog.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "blastlog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: blastlog
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- end }}

{{/* Selector labels of the streaming container. */}}
{{- define "blastlog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blastlog.name" . }}-stream
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the ticket function. */}}
{{- define "blastlog.ticketSelectorLabels" -}}
app.kubernetes.io/name: {{ include "blastlog.name" . }}-ticket
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "blastlog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blastlog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* env: plain config, then secrets by reference. */}}
{{- define "blastlog.env" -}}
{{- range $k, $v := .config }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- range $k, $ref := .secretEnv }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}

{{/* archiveEnv: the archive block as the binaries' variables; the chart refuses to
render without an archive unless archive.enabled is false. */}}
{{- define "blastlog.archiveEnv" -}}
{{- if .Values.archive.enabled }}
{{- if not .Values.archive.url }}
{{- fail "archive.url is required (https://<account>.blob.core.windows.net/<container>); set archive.enabled=false to run without an archive and lose lines beyond the stream's cap" }}
{{- end }}
- name: BLASTLOG_ARCHIVE
  value: azblob
- name: BLASTLOG_ARCHIVE_URL
  value: {{ .Values.archive.url | quote }}
{{- else }}
- name: BLASTLOG_ARCHIVE
  value: "off"
{{- end }}
{{- end }}

{{/* memoryEnv: the container's memory limit, from which the binary gives the Go
runtime a soft limit of 90% (GOMEMLIMIT). */}}
{{- define "blastlog.memoryEnv" -}}
- name: BLASTLOG_MEMORY_LIMIT
  valueFrom:
    resourceFieldRef:
      containerName: {{ .container }}
      resource: limits.memory
{{- end }}

{{/* publicUrl: signIn.publicUrl, else https:// and the first Ingress host when the
Ingress has TLS, else "". */}}
{{- define "blastlog.publicUrl" -}}
{{- if .Values.signIn.publicUrl }}
{{- .Values.signIn.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.tls .Values.ingress.hosts }}
{{- printf "https://%s" (index .Values.ingress.hosts 0).host }}
{{- end }}
{{- end }}

{{/* signInEnv: the page's sign-in as the binaries' variables. */}}
{{- define "blastlog.signInEnv" -}}
{{- with include "blastlog.publicUrl" . }}
- name: BLASTLOG_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.signIn.pageClientId }}
- name: BLASTLOG_PAGE_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- with .Values.signIn.authority }}
- name: BLASTLOG_ENTRA_AUTHORITY
  value: {{ . | trimSuffix "/" | quote }}
{{- end }}
{{- end }}
