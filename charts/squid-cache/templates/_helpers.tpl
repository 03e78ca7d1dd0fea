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

{{/* The fleet's frontends (fleet.enabled): the proxy Service's pods then. */}}
{{- define "squid-cache.frontendSelectorLabels" -}}
app.kubernetes.io/name: {{ include "squid-cache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: frontend
{{- end }}

{{/* "true" when the fleet's frontends run. Nil-safe: helm upgrade --reuse-values keeps the values of
a release made before fleet existed. */}}
{{- define "squid-cache.fleet" -}}
{{- if (.Values.fleet | default dict).enabled }}true{{ end }}
{{- end }}

{{- define "squid-cache.frontendName" -}}
{{- printf "%s-frontend" (include "squid-cache.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Service of owner replica .i, whose ClusterIP stays when its pod restarts with a new address:
Squid resolves a cache_peer's name rarely. */}}
{{- define "squid-cache.ownerName" -}}
{{- printf "%s-owner-%d" (include "squid-cache.fullname" .root | trunc 50 | trimSuffix "-") (int .i) }}
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

{{/* The CA mode, checked: each mode's prerequisites are there, or a clear failure. */}}
{{- define "squid-cache.caMode" -}}
{{- $mode := .Values.ca.mode -}}
{{- if eq $mode "existingSecret" }}
{{- if not .Values.ca.existingSecret }}{{ fail "ca.mode is existingSecret: set ca.existingSecret to a kubernetes.io/tls Secret with the CA (tls.crt, tls.key)" }}{{ end }}
{{- else if eq $mode "certManager" }}
{{- if not (.Capabilities.APIVersions.Has "cert-manager.io/v1") }}{{ fail "ca.mode is certManager, but the cluster has no cert-manager.io/v1 API: install cert-manager first (helm template: add --api-versions cert-manager.io/v1)" }}{{ end }}
{{- else if ne $mode "generate" }}
{{- fail (printf "ca.mode %q: one of generate, existingSecret, certManager" $mode) }}
{{- end }}
{{- $mode }}
{{- end }}

{{/* The domains bumped and cached, space-separated: squid.cachedDomains, then the hosts of
squid.cachedRegistries from files/registries.yaml (generated from registries/registries.go). */}}
{{- define "squid-cache.cachedDomains" -}}
{{- $table := .Files.Get "files/registries.yaml" | fromYaml }}
{{- $out := .Values.squid.cachedDomains }}
{{- range .Values.squid.cachedRegistries }}
{{- $hosts := index $table . }}
{{- if not $hosts }}
{{- fail (printf "squid.cachedRegistries: %q is not in the registries table (%s)" . (keys $table | sortAlpha | join ", ")) }}
{{- end }}
{{- $out = concat $out $hosts }}
{{- end }}
{{- $out | uniq | join " " }}
{{- end }}

{{/* The hosts of host[:port] names, each once, space-separated. */}}
{{- define "squid-cache.hosts" -}}
{{- $hosts := list }}
{{- range . }}{{ $hosts = append $hosts (split ":" .)._0 }}{{ end }}
{{- $hosts | uniq | join " " }}
{{- end }}

{{/* The domains a generated CA may sign for: the cached domains, without Squid's leading dot. */}}
{{- define "squid-cache.caDomains" -}}
{{- range splitList " " (include "squid-cache.cachedDomains" .) }}
- {{ trimPrefix "." . }}
{{- end }}
{{- end }}

{{- define "squid-cache.caSecretName" -}}
{{- if eq .Values.ca.mode "existingSecret" }}{{ .Values.ca.existingSecret }}{{ else }}{{ printf "%s-ca" (include "squid-cache.fullname" .) }}{{ end }}
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
    - --squid.access-log.token-file=/var/run/squid-log-token/token
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
    {{- if .Values.squid.enabled }}
    - name: log-token
      mountPath: /var/run/squid-log-token
      readOnly: true
    {{- end }}
    {{- if include "squid-cache.probing" . }}
    - name: probe-config
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

{{/* Security context of the containers of our image: containerSecurityContext and sidecarSecurityContext. */}}
{{- define "squid-cache.sidecarSecurityContext" -}}
{{- $sc := merge (dict "runAsNonRoot" true) (deepCopy (.Values.sidecarSecurityContext | default dict)) (deepCopy .Values.containerSecurityContext) }}
{{- range $k, $v := $sc }}{{ if kindIs "invalid" $v }}{{ $_ := unset $sc $k }}{{ end }}{{ end }}
{{- toYaml $sc }}
{{- end }}

{{/* imagePullSecrets as {name:} objects, from objects or plain names. */}}
{{- define "squid-cache.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* mebibytes: a Squid size ("256 MB", "1 GB", "512 KB") or a Kubernetes quantity ("1536Mi", "2Gi", "2G") in MiB, rounded up. */}}
{{- define "squid-cache.mebibytes" -}}
{{- $s := . | toString | trim -}}
{{- $m := regexFind "^[0-9]+" $s -}}
{{- if not $m }}{{ fail (printf "not a size: %q" $s) }}{{ end -}}
{{- $n := $m | int64 -}}
{{- $unit := regexReplaceAll "^[0-9]+\\s*" $s "" -}}
{{- $kib := dict "" 0 "bytes" 0 "KB" 1 "K" 1 "k" 1 "Ki" 1 "MB" 1024 "M" 1024 "Mi" 1024 "GB" 1048576 "G" 1048576 "Gi" 1048576 "TB" 1073741824 "T" 1073741824 "Ti" 1073741824 -}}
{{- if not (hasKey $kib $unit) }}{{ fail (printf "not a size: %q (Squid: 256 MB; Kubernetes: 1536Mi)" $s) }}{{ end -}}
{{- if or (eq $unit "") (eq $unit "bytes") }}{{ div (add $n 1048575) 1048576 }}{{ else }}{{ div (add (mul $n (get $kib $unit)) 1023) 1024 }}{{ end -}}
{{- end }}

{{/* Replicas: one exporter for an existing Squid. */}}
{{- define "squid-cache.replicas" -}}
{{- if .Values.squid.enabled }}{{ .Values.replicaCount }}{{ else }}1{{ end }}
{{- end }}

{{/* The ConfigMap in trust-manager's trust namespace that the Bundle reads. */}}
{{- define "squid-cache.trustSourceName" -}}
{{- printf "%s-%s-ca" (include "squid-cache.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Hook annotations of the secrets Job and its RBAC: (dict "when" "pre-install,..." "weight" "0" ["rbac" true]).
The RBAC goes after a failure too (its token must not outlive the run); a failed Job stays, for its log. */}}
{{- define "squid-cache.secretsHook" -}}
helm.sh/hook: {{ .when }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded{{ if .rbac }},hook-failed{{ end }}
{{- end }}

{{/* A token value as text: a number from a values file (a float to YAML: 1.7e+09) reads as from --set. */}}
{{- define "squid-cache.token" -}}
{{- if kindIs "float64" . }}{{ printf "%.0f" . }}{{ else if . }}{{ . | toString }}{{ end }}
{{- end }}

{{- define "squid-cache.resetToken" -}}
{{- include "squid-cache.token" .Values.squid.cacheDir.resetToken }}
{{- end }}

{{/* The cache_dir's volume in MiB: its size, plus a tenth and 16 MiB for the swap.state journal. */}}
{{- define "squid-cache.cacheVolumeMiB" -}}
{{- $s := int .Values.squid.cacheDir.sizeMiB -}}
{{- add $s (div $s 10) 16 }}
{{- end }}

{{/* Fails when the Squid container's memory limit cannot hold cache_mem, a tmpfs cache_dir and Squid itself,
or a persistent volume cannot hold the cache_dir. */}}
{{- define "squid-cache.checkMemory" -}}
{{- $s := .Values.squid -}}
{{- $tmpfs := 0 -}}
{{- if and $s.cacheDir.enabled (not $s.persistence.enabled) (eq $s.cacheDir.medium "Memory") }}
{{- $tmpfs = include "squid-cache.cacheVolumeMiB" . | int }}
{{- end }}
{{- $need := add (include "squid-cache.mebibytes" $s.cacheMem | int) $tmpfs (mul 128 (max 1 (int $s.workers))) -}}
{{- with (($s.resources).limits).memory }}
{{- $limit := include "squid-cache.mebibytes" . | int }}
{{- if lt $limit $need }}
{{- fail (printf "squid.resources.limits.memory %s (%d MiB) is below what Squid needs: cacheMem %s + %d MiB of tmpfs cache_dir + 128 MiB a worker = %d MiB. Raise the limit, lower cacheMem or cacheDir.sizeMiB, or put the cache_dir on disk (cacheDir.medium \"\" or persistence)" (toString .) $limit $s.cacheMem $tmpfs $need) }}
{{- end }}
{{- end }}
{{- if and $s.cacheDir.enabled $s.persistence.enabled }}
{{- if not $s.persistence.size }}{{ fail "squid.persistence.enabled: set squid.persistence.size" }}{{ end }}
{{- $vol := include "squid-cache.mebibytes" $s.persistence.size | int }}
{{- $want := include "squid-cache.cacheVolumeMiB" . | int }}
{{- if lt $vol $want }}
{{- fail (printf "squid.persistence.size %s (%d MiB) cannot hold the cache_dir: squid.cacheDir.sizeMiB %d needs %d MiB with its journal" $s.persistence.size $vol (int $s.cacheDir.sizeMiB) $want) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Fails, before helm upgrade meets Kubernetes' "Forbidden", when a value behind an immutable field of the
installed StatefulSet changed. Needs cluster access (lookup); helm template cannot check. */}}
{{- define "squid-cache.checkImmutable" -}}
{{- $sts := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "squid-cache.fullname" .) -}}
{{- if $sts }}
{{- $how := printf "Kubernetes cannot change it in place. To change it: kubectl -n %s delete statefulset %s --cascade=orphan, then helm upgrade again (the pods are replaced one at a time; see the README, \"Changing immutable values\")" .Release.Namespace (include "squid-cache.fullname" .) }}
{{- if ne $sts.spec.podManagementPolicy .Values.podManagementPolicy }}
{{- fail (printf "podManagementPolicy is %s on the installed StatefulSet, not %s: %s" $sts.spec.podManagementPolicy .Values.podManagementPolicy $how) }}
{{- end }}
{{- $had := gt (len ($sts.spec.volumeClaimTemplates | default list)) 0 }}
{{- $want := and .Values.squid.cacheDir.enabled .Values.squid.persistence.enabled | default false }}
{{- if ne $had $want }}
{{- fail (printf "squid.persistence.enabled (with squid.cacheDir.enabled) is %v, but the installed StatefulSet %s volume claims: %s" $want (ternary "has" "has no" $had) $how) }}
{{- end }}
{{- if $had }}
{{- $claim := index $sts.spec.volumeClaimTemplates 0 }}
{{- if ne (toString $claim.spec.resources.requests.storage) (toString .Values.squid.persistence.size) }}
{{- fail (printf "squid.persistence.size is %s, but the installed claims ask for %s: %s (existing claims keep their size; resize them with kubectl edit pvc where the storage class allows)" (toString .Values.squid.persistence.size) (toString $claim.spec.resources.requests.storage) $how) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "squid-cache.metricsServiceName" -}}
{{- printf "%s-metrics" (include "squid-cache.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* NetworkPolicy ipBlocks: everything but squid.deniedDestinations, loopback and link-local, per family. */}}
{{- define "squid-cache.egressBlocks" -}}
{{- $v4 := list "127.0.0.0/8" "169.254.0.0/16" "0.0.0.0/8" -}}
{{- $v6 := list "::1/128" "fe80::/10" -}}
{{- range .Values.squid.deniedDestinations }}
{{- if contains ":" . }}{{ $v6 = append $v6 . }}{{ else }}{{ $v4 = append $v4 . }}{{ end }}
{{- end }}
- ipBlock:
    cidr: 0.0.0.0/0
    except:
      {{- toYaml $v4 | nindent 6 }}
- ipBlock:
    cidr: ::/0
    except:
      {{- toYaml $v6 | nindent 6 }}
{{- range .Values.squid.allowedDestinations }}
- ipBlock:
    cidr: {{ . }}
{{- end }}
{{- end }}

{{/* A PromQL expression with job="<job>" in every selector of squid_* and squid:* series and of up. */}}
{{- define "squid-cache.scopeExpr" -}}
{{- $m := printf "job=%q" .job -}}
{{- $e := .expr | replace "job=~\".*squid.*\"" $m -}}
{{- $e = regexReplaceAll "\\b(squid[_:][a-zA-Z0-9_:]*)\\{" $e (printf "${1}{%s," $m) -}}
{{- $e = regexReplaceAll "\\b(squid[_:][a-zA-Z0-9_:]*)([^a-zA-Z0-9_:{]|$)" $e (printf "${1}{%s}${2}" $m) -}}
{{- $e }}
{{- end }}

{{/* The secrets Job: (dict "root" $ "name" NAME "sa" SERVICEACCOUNT "when" HOOKS "mode" CAMODE "ca" BOOL "cachemgr" BOOL). */}}
{{- define "squid-cache.secretsJob" -}}
{{- $r := .root -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
  namespace: {{ $r.Release.Namespace }}
  labels:
    {{- include "squid-cache.labels" $r | nindent 4 }}
    app.kubernetes.io/component: secrets
  annotations:
    {{- include "squid-cache.secretsHook" (dict "when" .when "weight" "0") | nindent 4 }}
spec:
  # cert-manager may take a while to issue: the retries wait for it.
  backoffLimit: {{ ternary 8 2 (and .ca (eq .mode "certManager")) }}
  activeDeadlineSeconds: 600
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ include "squid-cache.name" $r }}
        app.kubernetes.io/instance: {{ $r.Release.Name }}
        app.kubernetes.io/component: secrets
    spec:
      serviceAccountName: {{ .sa }}
      automountServiceAccountToken: true
      restartPolicy: Never
      {{- include "squid-cache.imagePullSecrets" $r | nindent 6 }}
      {{- with $r.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $r.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: secrets
          image: {{ include "squid-cache.image" (dict "image" $r.Values.exporter.image "root" $r) }}
          imagePullPolicy: {{ $r.Values.image.pullPolicy }}
          command: ["/usr/local/bin/squid-cache-secrets"]
          args:
            {{- if .ca }}
            - --ca.secret={{ include "squid-cache.caSecretName" $r }}
            {{- if eq .mode "generate" }}
            - --ca.generate
            - --ca.common-name={{ include "squid-cache.fullname" $r }} ssl-bump CA
            - --ca.validity={{ $r.Values.ca.validity }}
            - --ca.rotation={{ include "squid-cache.token" $r.Values.ca.rotation }}
            {{- end }}
            {{- range splitList " " (include "squid-cache.cachedDomains" $r) }}
            - --ca.permitted-domain={{ . }}
            {{- end }}
            - --ca.configmap={{ include "squid-cache.caConfigMapName" $r }}
            {{- if $r.Values.ca.trustManager.enabled }}
            - --ca.configmap={{ $r.Values.ca.trustManager.trustNamespace }}/{{ include "squid-cache.trustSourceName" $r }}
            {{- end }}
            {{- end }}
            {{- if and .cachemgr (not $r.Values.cachemgr.existingSecret) }}
            - --cachemgr.secret={{ include "squid-cache.cachemgrSecretName" $r }}
            {{- end }}
            - --label=app.kubernetes.io/name={{ include "squid-cache.name" $r }}
            - --label=app.kubernetes.io/instance={{ $r.Release.Name }}
            - --label=app.kubernetes.io/part-of=squid-cache
            - --log.level={{ $r.Values.exporter.logLevel }}
            - --log.format={{ $r.Values.exporter.logFormat }}
          securityContext:
            {{- include "squid-cache.sidecarSecurityContext" $r | nindent 12 }}
          {{- with $r.Values.secretsJob.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
{{- end }}

{{/* Fails on cache values Squid would refuse at start, saying why. */}}
{{- define "squid-cache.checkCache" -}}
{{- $s := .Values.squid -}}
{{- range $key := list "cacheMem" "maximumObjectSizeInMemory" "maximumObjectSize" }}
{{- $v := get $s $key | toString }}
{{- if not (regexMatch "^[0-9]+ (bytes|KB|MB|GB)$" $v) }}
{{- fail (printf "squid.%s %q: write a whole number, a space and bytes, KB, MB or GB, as Squid reads it (e.g. \"10 GB\"; not 10GB, 10 GiB or 10Gi)" $key $v) }}
{{- end }}
{{- end }}
{{- if and (gt (int $s.workers) 1) $s.cacheDir.enabled (ne $s.cacheDir.type "rock") }}
{{- fail (printf "squid.workers %d needs squid.cacheDir.type rock: a %s cache_dir is not shared between workers, and they would corrupt it (or set squid.cacheDir.enabled false for a memory-only cache)" (int $s.workers) $s.cacheDir.type) }}
{{- end }}
{{- end }}
