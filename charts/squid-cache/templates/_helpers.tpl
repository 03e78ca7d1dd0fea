{{/* Name of the chart, or nameOverride. */}}
{{- define "squid-cache.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: <release>-<chart> unless the release name holds the chart name. */}}
{{- define "squid-cache.fullname" -}}
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

{{- define "squid-cache.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "squid-cache.labels" -}}
helm.sh/chart: {{ include "squid-cache.chart" . }}
app.kubernetes.io/name: {{ include "squid-cache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: squid-cache
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the Squid pods. */}}
{{- define "squid-cache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "squid-cache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: squid
{{- end }}

{{- define "squid-cache.serviceName" -}}
{{- default (include "squid-cache.fullname" .) .Values.service.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "squid-cache.headlessName" -}}
{{- printf "%s-headless" (include "squid-cache.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "squid-cache.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "squid-cache.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image: registry/repository:tag@digest from (dict "image" X "root" $). */}}
{{- define "squid-cache.image" -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry -}}
{{- with $registry }}{{ . }}/{{ end }}{{ .image.repository }}
{{- if .image.digest }}@{{ .image.digest }}{{ else }}:{{ .image.tag | default .root.Chart.AppVersion }}{{ end }}
{{- end }}

{{/* Which CA Squid signs with: existingSecret, certManager or generate. */}}
{{- define "squid-cache.caSource" -}}
{{- if .Values.ca.existingSecret }}existingSecret
{{- else if and .Values.ca.certManager.enabled (.Capabilities.APIVersions.Has "cert-manager.io/v1") }}certManager
{{- else }}generate
{{- end }}
{{- end }}

{{- define "squid-cache.caSecretName" -}}
{{- .Values.ca.existingSecret | default (printf "%s-ca" (include "squid-cache.fullname" .)) }}
{{- end }}

{{- define "squid-cache.caConfigMapName" -}}
{{- .Values.ca.clientConfigMap | default (printf "%s-ca" (include "squid-cache.fullname" .)) }}
{{- end }}

{{- define "squid-cache.cachemgrSecretName" -}}
{{- .Values.cachemgr.existingSecret | default (printf "%s-cachemgr" (include "squid-cache.fullname" .)) }}
{{- end }}

{{/* Whether the exporter probes: enabled, with targets. */}}
{{- define "squid-cache.probing" -}}
{{- if and .Values.probe.enabled .Values.probe.targets }}true{{ end }}
{{- end }}

{{/* Where the store-ID helper serves metrics, and the ICAP service. */}}
{{- define "squid-cache.icapMetricsPort" -}}9302{{- end }}
{{- define "squid-cache.storeIDMetricsPort" -}}9303{{- end }}
