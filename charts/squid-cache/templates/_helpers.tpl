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

{{/* The exporter: a native sidecar of Squid, or alone for an existing Squid. */}}
{{- define "squid-cache.exporterContainer" -}}
- name: exporter
  image: {{ include "squid-cache.image" (dict "image" .Values.exporter.image "root" .) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if .Values.squid.enabled }}
  restartPolicy: Always
  {{- end }}
  args:
    {{- if .Values.squid.enabled }}
    - --squid.address=http://127.0.0.1:{{ .Values.squid.port }}
    - --squid.access-log=tcp://127.0.0.1:{{ .Values.exporter.accessLogPort }}
    {{- else }}
    - --squid.address={{ required "squid.enabled is false: set existingSquid.address" .Values.existingSquid.address }}
    - --squid.access-log=tcp://0.0.0.0:{{ .Values.exporter.accessLogPort }}
    {{- if not .Values.existingSquid.accessLogFrom }}
    {{- fail "squid.enabled is false: set existingSquid.accessLogFrom to the networks the Squid sends its access log from" }}
    {{- end }}
    {{- range .Values.existingSquid.accessLogFrom }}
    - --squid.access-log.allowed-peers={{ . }}
    {{- end }}
    {{- end }}
    {{- if or .Values.squid.enabled .Values.cachemgr.existingSecret }}
    - --squid.password-file=/etc/squid-cache-exporter/cachemgr/password
    {{- end }}
    - --web.listen-address=:{{ .Values.exporter.port }}
    - --log.level={{ .Values.exporter.logLevel }}
    - --log.format={{ .Values.exporter.logFormat }}
    - --squid.access-log.echo
    {{- range .Values.exporter.registries }}
    - --squid.access-log.registry={{ . }}
    {{- end }}
    {{- if include "squid-cache.probing" . }}
    - --probe.config=/etc/squid-cache-exporter/probe/probe.yml
    - --probe.ca-file=/etc/squid-cache-exporter/ca/ca.crt
    - --probe.log-wait={{ .Values.probe.logWait }}
    {{- end }}
    {{- range .Values.exporter.extraArgs }}
    - {{ . }}
    {{- end }}
  ports:
    - name: metrics
      containerPort: {{ .Values.exporter.port }}
    {{- if not .Values.squid.enabled }}
    - name: access-log
      containerPort: {{ .Values.exporter.accessLogPort }}
    {{- end }}
  startupProbe:
    httpGet:
      path: /
      port: metrics
    periodSeconds: 1
    failureThreshold: 30
  readinessProbe:
    httpGet:
      path: /
      port: metrics
    periodSeconds: 10
  livenessProbe:
    httpGet:
      path: /
      port: metrics
    periodSeconds: 20
    failureThreshold: 3
  securityContext:
    {{- include "squid-cache.sidecarSecurityContext" . | nindent 4 }}
  {{- with .Values.exporter.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    {{- if or .Values.squid.enabled .Values.cachemgr.existingSecret }}
    - name: cachemgr
      mountPath: /etc/squid-cache-exporter/cachemgr
      readOnly: true
    {{- end }}
    {{- if include "squid-cache.probing" . }}
    - name: config
      mountPath: /etc/squid-cache-exporter/probe
      readOnly: true
    - name: probe-ca
      mountPath: /etc/squid-cache-exporter/ca
      readOnly: true
    {{- if .Values.probe.credentialsSecret }}
    - name: credentials
      mountPath: /etc/squid-cache-exporter/credentials
      readOnly: true
    {{- end }}
    {{- end }}
{{- end }}

{{/* Security context of the containers of our image (user nobody). */}}
{{- define "squid-cache.sidecarSecurityContext" -}}
{{- toYaml (merge (dict "runAsUser" 65534 "runAsGroup" 65534 "runAsNonRoot" true) (deepCopy .Values.containerSecurityContext)) }}
{{- end }}

{{/* Replicas: one exporter for an existing Squid. */}}
{{- define "squid-cache.replicas" -}}
{{- if .Values.squid.enabled }}{{ .Values.replicaCount }}{{ else }}1{{ end }}
{{- end }}
