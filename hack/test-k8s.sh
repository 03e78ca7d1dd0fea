#!/usr/bin/env bash
# make test-k8s: the Helm chart on a real Kubernetes.
#
#   - builds the images with buildah (hack/build-images.sh) and loads them;
#   - helm lint --strict (defaults and every ci/ values file);
#   - the objects rendered for the defaults and for ci/all-features-values.yaml
#     pass kubectl apply --dry-run=server --validate=strict;
#   - runs the quay emulation (hack/quayemu: token auth, a private repository,
#     302s to signed CDN URLs, a public registry) in the cluster, and installs
#     the chart in front of it (hack/k8s/values.yaml: 2 replicas, the
#     private-blob helpers) with helm install --wait; squid -k parse passes
#     on the rendered squid.conf in every pod;
#   - helm test passes: every replica pulls a public registry blob, a public
#     quay blob and a private quay blob twice, digests match and the second
#     pulls are TCP_MEM_HIT;
#   - with prometheus-operator in the cluster: the ServiceMonitor's targets are
#     up, squid_up is 1 and the probe verdicts are in Prometheus, and every
#     alert and recording rule of alerts/ is loaded (read from its API);
#   - broken releases fail helm test with the reason: cache_mem 0
#     (not_cached), and a CA bundle the clients do not trust (tls);
#   - helm upgrade with changed values rolls the pods and keeps the CA;
#   - helm uninstall leaves nothing of the release behind.
#
# Cluster: the one in $KUBECONFIG when set (kubectl and helm from PATH; set
# LOAD_IMAGE to the command that loads a docker-archive, e.g.
# "kind load image-archive"), else ../shared/k8s/cluster, started with
# --monitoring when it is not up (and then stopped again at the end).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
NS=${NS:-squid-cache-test}
REL=sq
CHART=charts/squid-cache
FULL=$REL-squid-cache
CLUSTER=${CLUSTER:-$(realpath -m ../shared/k8s/cluster)}
IMAGES=${IMAGES:-_output/images}
WORK=$(mktemp -d)
fails=0
started_cluster=0

log() { printf '[test-k8s %s +%ss] %s\n' "$(date +%T)" "$(($(date +%s) - T0))" "$*" >&2; }
ok() { log "ok: $*"; }
fail() { log "FAIL: $*"; fails=$((fails + 1)); }
die() { log "FAIL: $*"; exit 1; }

if [[ -n ${KUBECONFIG:-} ]]; then
  log "using the cluster in KUBECONFIG=$KUBECONFIG"
  k() { kubectl "$@"; }
  h() { helm "$@" 2> >(grep -v 'found symbolic link in path' >&2); }
  load() { [[ -n ${LOAD_IMAGE:-} ]] || die "set LOAD_IMAGE to the command that loads a docker-archive into the cluster"
    $LOAD_IMAGE "$1"; }
else
  [[ -x $CLUSTER ]] || die "no KUBECONFIG and no cluster tool at $CLUSTER"
  if ! "$CLUSTER" status >/dev/null 2>&1; then
    log "starting the cluster: $CLUSTER up --monitoring (stopped again at the end)"
    "$CLUSTER" up --monitoring
    started_cluster=1
  fi
  k() { "$CLUSTER" exec -- kubectl "$@"; }
  h() { "$CLUSTER" exec -- helm "$@" 2> >(grep -v 'found symbolic link in path' >&2); }
  load() { "$CLUSTER" load-image "$1" >/dev/null 2>&1; }
fi
kn() { k -n "$NS" "$@"; }
hn() { h -n "$NS" "$@"; }

cleanup() {
  hn uninstall "$REL" --wait >/dev/null 2>&1 || true
  k delete namespace "$NS" --wait=true --timeout=2m >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if ((started_cluster)); then "$CLUSTER" down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

helm_version=$(h version --short 2>/dev/null || true)
[[ $helm_version == v3.16.3* ]] || log "note: helm is $helm_version, the tests target v3.16.3"
kube_version=$(k version -o json | jq -r .serverVersion.gitVersion)
log "Kubernetes $kube_version, helm $helm_version"

# --- images
log "building the images"
hack/build-images.sh "$IMAGES"
for f in squid squid-cache-exporter quayemu; do load "$(realpath "$IMAGES/$f.tar")"; done
tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' $CHART/Chart.yaml)
ok "images built and loaded (tag $tag)"

# --- lint and server-side validation
for f in "" $CHART/ci/*.yaml; do
  if h lint --strict $CHART --kube-version "$kube_version" ${f:+-f "$f"} >"$WORK/lint.log" 2>&1; then
    ok "helm lint --strict ${f:-(defaults)}"
  else
    fail "helm lint --strict ${f:-(defaults)}"; cat "$WORK/lint.log" >&2
  fi
done
k delete namespace "$NS" --wait=true --timeout=2m >/dev/null 2>&1 || true
k create namespace "$NS" >/dev/null
for f in "" $CHART/ci/all-features-values.yaml; do
  h template "$REL" $CHART -n "$NS" --kube-version "$kube_version" ${f:+-f "$f"} >"$WORK/rendered.yaml"
  if k apply --dry-run=server --validate=strict -f "$WORK/rendered.yaml" >"$WORK/dry-run.log" 2>&1; then
    ok "kubectl apply --dry-run=server --validate=strict: ${f:-defaults} ($(grep -c '^kind:' "$WORK/rendered.yaml") objects)"
  else
    fail "server-side validation of ${f:-defaults}"; cat "$WORK/dry-run.log" >&2
  fi
done

# --- the registries: the quay emulation
sed "s|localhost/squid-cache-exporter/quayemu:TAG|localhost/squid-cache-exporter/quayemu:$tag|" hack/k8s/quayemu.yaml | kn apply -f - >/dev/null
kn rollout status deployment/quayemu --timeout=2m >/dev/null || die "the quay emulation did not start"
k get --raw "/api/v1/namespaces/$NS/services/quay:control/proxy/ca.pem" >"$WORK/quayemu-ca.pem"
grep -q 'BEGIN CERTIFICATE' "$WORK/quayemu-ca.pem" || die "no CA from the quay emulation"
kn create configmap quayemu-ca --from-file=ca.crt="$WORK/quayemu-ca.pem" >/dev/null
kn create secret docker-registry probe-pull-secret --docker-server=quay.test \
  --docker-username=probe --docker-password=probe-password >/dev/null
quay_ip=$(kn get service quay -o jsonpath='{.spec.clusterIP}')
cat >"$WORK/hosts.yaml" <<EOF
hostAliases:
  - ip: $quay_ip
    hostnames: [quay.test, cdn01.quay.test, registry.access.test]
EOF
ok "quay emulation up at $quay_ip (quay.test, cdn01.quay.test, registry.access.test)"
VALUES=(-f hack/k8s/values.yaml -f "$WORK/hosts.yaml")

pods() { kn get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=squid -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
ca_sum() { kn get configmap "$FULL-ca" -o jsonpath='{.data.ca\.crt}' | sha256sum | cut -c1-16; }
secret_sum() { kn get secret "$FULL-ca" -o jsonpath='{.data.tls\.crt}' | sha256sum | cut -c1-16; }

# helm_test WANT [REASON [RELEASE]]: WANT=pass|fail; a failure must name REASON.
helm_test() {
  local want=$1 reason=${2:-} rel=${3:-$REL} t=$SECONDS
  if hn test "$rel" --timeout 3m >"$WORK/test.log" 2>&1; then
    [[ $want == pass ]] && ok "helm test $rel passed ($((SECONDS - t))s)" || { fail "helm test passed on a broken release"; cat "$WORK/test.log" >&2; }
    return
  fi
  kn logs "$rel-squid-cache-test-probe" >"$WORK/test-pod.log" 2>&1 || true
  if [[ $want == pass ]]; then
    fail "helm test failed"; cat "$WORK/test.log" "$WORK/test-pod.log" >&2; return
  fi
  if grep -q "FAIL .*: $reason" "$WORK/test-pod.log"; then
    ok "helm test failed as it must, saying: $(grep -m1 "FAIL .*: $reason" "$WORK/test-pod.log")"
    log "   $(grep -m1 'error:' "$WORK/test-pod.log" | sed 's/^ *//' | cut -c1-200)"
  else
    fail "helm test failed without the reason $reason"; cat "$WORK/test-pod.log" >&2
  fi
}

# verdicts: what helm test checked, shown: the one-shot probe run from an
# exporter sidecar against every replica prints each pull's result code.
verdicts() {
  local pod urls=()
  pod=$(pods | head -1 | cut -d= -f1)
  for ((i = 0; i < 2; i++)); do urls+=("--exporter-url=http://$FULL-$i.$FULL-headless.$NS.svc:9301"); done
  kn exec "$pod" -c exporter -- squid-cache-exporter probe "${urls[@]}" >"$WORK/verdicts.log" 2>&1 || true
  local pass hits matches
  pass=$(grep -c '^replica .*: PASS ' "$WORK/verdicts.log" || true)
  hits=$(grep -c 'second pull TCP_MEM_HIT' "$WORK/verdicts.log" || true)
  matches=$(grep -c 'digest match: true' "$WORK/verdicts.log" || true)
  if [[ $pass == 6 && $hits == 6 && $matches == 6 ]]; then
    ok "2 replicas x 3 targets (public registry, public quay, private quay): 6 PASS, 6 second pulls TCP_MEM_HIT, 6 digests match"
    grep '^replica\|squid:' "$WORK/verdicts.log" | sed 's/^/     /' >&2
  else
    fail "verdicts: $pass PASS, $hits TCP_MEM_HIT, $matches digest matches of 6"; cat "$WORK/verdicts.log" >&2
  fi
}

# --- install
t=$SECONDS
if hn install "$REL" $CHART "${VALUES[@]}" --wait --timeout 5m >"$WORK/install.log" 2>&1; then
  ok "helm install --wait ($((SECONDS - t))s)"
else
  fail "helm install"; cat "$WORK/install.log" >&2
  kn get pods -o wide >&2 || true; kn describe pods -l app.kubernetes.io/instance=$REL >&2 || true
  exit 1
fi
for pod in $(pods | cut -d= -f1); do
  if out=$(kn exec "$pod" -c squid -- squid -k parse -f /etc/squid-cache/conf/squid.conf 2>&1) &&
    ! grep -E 'ERROR|FATAL|WARNING' <<<"$out"; then
    ok "squid -k parse of the rendered squid.conf in $pod"
  else
    fail "squid -k parse in $pod"; echo "$out" >&2
  fi
done
helm_test pass
verdicts
ca0=$(ca_sum) secret0=$(secret_sum)

# --- Prometheus (cluster up --monitoring)
prom() { k get --raw "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/$1" 2>/dev/null || true; }
promq() { prom "query?query=$(jq -rn --arg q "$1" '$q|@uri')"; }
if k -n monitoring get service prometheus >/dev/null 2>&1; then
  log "Prometheus: waiting for the ServiceMonitor's targets, the verdicts and the rules"
  want_rules=$(grep -oE '^\s*- (alert|record): \S+' alerts/squid-cache-exporter.rules.yml | awk '{print $3}' | sort)
  nwant=$(wc -l <<<"$want_rules")
  up="" squid_up="" probes="" rules="" t=$SECONDS
  declare -A seen=()
  for _ in $(seq 60); do
    [[ $up == 6 ]] || up=$(promq "sum(up{namespace=\"$NS\",service=\"$FULL\"})" | jq -r '.data.result[0].value[1] // 0')
    [[ $squid_up == 2 ]] || squid_up=$(promq "sum(squid_up{namespace=\"$NS\"})" | jq -r '.data.result[0].value[1] // 0')
    [[ $probes == 6 ]] || probes=$(promq "sum(squid_probe_success{namespace=\"$NS\"} * squid_probe_cache_hit * squid_probe_digest_match)" | jq -r '.data.result[0].value[1] // 0')
    [[ $rules == "$nwant" ]] || rules=$(prom rules | jq -r '.data.groups[].rules[] | select(.health == "ok") | .name' | sort -u | comm -12 - <(echo "$want_rules") | wc -l)
    for c in "targets:$up:6" "squid_up:$squid_up:2" "verdicts:$probes:6" "rules:$rules:$nwant"; do
      IFS=: read -r name got want <<<"$c"
      [[ $got == "$want" && -z ${seen[$name]:-} ]] && seen[$name]=$((SECONDS - t))s
    done
    [[ $up == 6 && $squid_up == 2 && $probes == 6 && $rules == "$nwant" ]] && break
    sleep 5
  done
  log "Prometheus saw: targets after ${seen[targets]:-never}, squid_up ${seen[squid_up]:-never}, passing verdicts ${seen[verdicts]:-never}, rules ${seen[rules]:-never}"
  # 2 pods x 3 endpoints (exporter, ICAP service, store-ID helper).
  [[ $up == 6 ]] && ok "Prometheus: the ServiceMonitor's 6 targets (2 pods x exporter, ICAP, store-ID) are up" || fail "Prometheus: sum(up) of the ServiceMonitor targets is $up, want 6"
  [[ $squid_up == 2 ]] && ok "Prometheus: squid_up is 1 on both replicas" || fail "Prometheus: sum(squid_up) is $squid_up, want 2"
  # The probe's own view of the pulls, per replica and target.
  [[ $probes == 6 ]] && ok "Prometheus: squid_probe_success, _cache_hit and _digest_match are 1 for 3 targets on 2 replicas" || fail "Prometheus: probe verdicts passing: $probes of 6"
  [[ $rules == "$nwant" ]] && ok "Prometheus: all $nwant alerts and recording rules of alerts/ loaded, health ok" || fail "Prometheus: $rules of $nwant rules loaded"
  hits=$(promq "sum(squid_probe_proxy_hits_total{namespace=\"$NS\"})" | jq -r '.data.result[0].value[1] // 0')
  [[ ${hits%.*} -gt 0 ]] && ok "Prometheus: the probe's pulls counted $hits hits in Squid" || fail "Prometheus: no probe hits counted"
  # The traffic metrics (Squid's access log) say what the pulls did. The
  # prober is the only client, so the log's requests and CONNECT tunnels are
  # the prober's own count to the request, and its hits are blob hits; blobs
  # count under the registry pulled from (the CDN's under quay.test).
  sel="namespace=\"$NS\""
  for _ in $(seq 30); do
    reqdiff=$(promq "sum(squid_access_requests_total{$sel}) + sum(squid_access_tunnels_total{$sel}) - sum(squid_probe_proxy_requests_total{$sel})" | jq -r '.data.result[0].value[1] // "none"')
    hitdiff=$(promq "sum(squid_access_requests_total{$sel,object=\"blob\",cache=\"hit\"}) - sum(squid_probe_proxy_hits_total{$sel})" | jq -r '.data.result[0].value[1] // "none"')
    [[ $reqdiff == 0 && $hitdiff == 0 ]] && break
    sleep 3
  done
  [[ $reqdiff == 0 && $hitdiff == 0 ]] && ok "traffic metrics: requests + tunnels = the prober's requests through Squid, blob hits = the prober's hits" ||
    fail "traffic metrics vs the prober: requests differ by $reqdiff, hits by $hitdiff"
  promq "sum by (pod, registry, cache) (squid_access_requests_total{$sel,object=\"blob\"}) > 0" |
    jq -r '.data.result[] | "\(.metric.pod) \(.metric.registry) \(.metric.cache) \(.value[1])"' | sort >"$WORK/blobs.txt"
  registries=$(awk '{print $2}' "$WORK/blobs.txt" | sort -u | tr '\n' ' ')
  [[ $registries == "quay.test registry.access.test " ]] && ok "blobs counted under their registries: $registries" || fail "blob registries: $registries"
  ratio=$(promq "sum by (pod, registry) (squid_access_requests_total{$sel,object=\"blob\",cache=\"hit\"}) / (sum by (pod, registry) (squid_access_requests_total{$sel,object=\"blob\",cache=~\"hit|miss|revalidated\"}) > 0)" |
    jq -r '.data.result[] | "\(.metric.pod)/\(.metric.registry)=\(.value[1] | tonumber * 100 | floor)%"' | sort | tr '\n' ' ')
  misses=$(awk '$3 == "miss" {m += $4} END {print m + 0}' "$WORK/blobs.txt")
  # Each replica's first pull of each of its 3 blobs is a miss, at least;
  # every second pull was a hit (the verdicts above).
  ((misses >= 6)) && ok "blob hit ratio per replica and registry: $ratio($misses misses: the first pulls)" || fail "blob misses $misses, ratio $ratio"
  sed 's/^/     /' "$WORK/blobs.txt" >&2
  # The private path: the store-ID helper verified signed CDN URLs with the
  # CDN, and CDN blob requests went through the ICAP service (it removes
  # Authorization when a client sends it to the CDN; the prober's Go client
  # does not).
  verified=$(promq "sum(squid_store_id_requests_total{$sel,result=\"verified\"})" | jq -r '.data.result[0].value[1] // 0')
  reqmod=$(promq "sum(squid_icap_requests_total{$sel,method=\"REQMOD\"})" | jq -r '.data.result[0].value[1] // 0')
  [[ ${verified%.*} -gt 0 && ${reqmod%.*} -gt 0 ]] && ok "Prometheus: the store-ID helper verified $verified signed CDN URLs, the ICAP service saw $reqmod CDN requests" ||
    fail "Prometheus: store-ID verified $verified, ICAP REQMODs $reqmod"
else
  log "no Prometheus in namespace monitoring: monitoring checks skipped (cluster up --monitoring runs them)"
fi

# --- the chart for a Squid it does not run: the exporter alone, watching
# replica 0 of the first release, which logs to it and lets it read the cache
# manager (with the same password).
# The pods' network: the node's podCIDR, or the /16 of replica 0's address.
pod_cidr=$(k get nodes -o jsonpath='{.items[0].spec.podCIDR}')
[[ -n $pod_cidr ]] || pod_cidr=$(kn get pod "$FULL-0" -o jsonpath='{.status.podIP}' | awk -F. '{print $1"."$2".0.0/16"}')
cat >"$WORK/ext.yaml" <<EOF
squid:
  enabled: false
existingSquid:
  address: http://$FULL-0.$FULL-headless.$NS.svc:3128
  accessLogFrom: [$pod_cidr]
cachemgr:
  existingSecret: $FULL-cachemgr
probe:
  caConfigMap: $FULL-ca
EOF
t=$SECONDS
if hn install ext $CHART -f hack/k8s/values.yaml -f "$WORK/ext.yaml" --wait --timeout 3m >"$WORK/ext.log" 2>&1; then
  ext_ip=$(kn get service ext-squid-cache -o jsonpath='{.spec.clusterIP}')
  cat >"$WORK/log-to-ext.yaml" <<EOF
squid:
  extraConfig: |
    acl pods src $pod_cidr
    http_access allow pods manager
    access_log tcp://$ext_ip:5140 logformat=squid_probe on-error=drop
EOF
  hn upgrade "$REL" $CHART "${VALUES[@]}" -f "$WORK/log-to-ext.yaml" --wait --timeout 5m >/dev/null
  ok "an exporter-only release (squid.enabled=false) for replica 0 of $REL ($((SECONDS - t))s)"
  helm_test pass "" ext
  ext_up=$(k get --raw "/api/v1/namespaces/$NS/services/ext-squid-cache:metrics/proxy/metrics" | grep -E '^squid_up ' || true)
  [[ $ext_up == "squid_up 1" ]] && ok "its squid_up is 1: it reads the existing Squid's cache manager" || fail "existing Squid: $ext_up"
  hn uninstall ext --wait >/dev/null
else
  fail "helm install of the exporter-only release"; cat "$WORK/ext.log" >&2
fi
pods0=$(pods)

# --- broken releases fail helm test, naming the reason
t=$SECONDS
hn upgrade "$REL" $CHART "${VALUES[@]}" --set squid.cacheMem="0 MB" --wait --timeout 5m >/dev/null
pods1=$(pods)
[[ -z $(comm -12 <(echo "$pods0") <(echo "$pods1")) ]] && ok "helm upgrade (cache_mem 0) rolled both pods ($((SECONDS - t))s)" || fail "helm upgrade left pods unchanged: $pods1"
[[ $(ca_sum) == "$ca0" && $(secret_sum) == "$secret0" ]] && ok "the CA is kept across the upgrade" || fail "the CA changed on upgrade"
helm_test fail not_cached

openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=not the proxy CA" -days 1 -out "$WORK/other-ca.pem" 2>/dev/null
kn create configmap untrusted-bundle --from-file=ca.crt="$WORK/other-ca.pem" >/dev/null
hn upgrade "$REL" $CHART "${VALUES[@]}" --set probe.caConfigMap=untrusted-bundle --wait --timeout 5m >/dev/null
helm_test fail tls

# --- back to the good values: pods roll, the CA is the same, the test passes
t=$SECONDS
hn upgrade "$REL" $CHART "${VALUES[@]}" --wait --timeout 5m >/dev/null
[[ -z $(comm -12 <(echo "$pods1") <(pods)) ]] && ok "helm upgrade back to the good values rolled the pods ($((SECONDS - t))s)" || fail "pods not rolled"
[[ $(ca_sum) == "$ca0" && $(secret_sum) == "$secret0" ]] && ok "the CA is the one of the first install after 3 upgrades" || fail "the CA changed"
helm_test pass

# --- uninstall leaves nothing behind
# --wait waits for the objects helm deleted; their pods go after them.
hn uninstall "$REL" --wait --timeout 3m >/dev/null
t=$SECONDS
for _ in $(seq 60); do
  left=$(k get all,configmaps,secrets,serviceaccounts,poddisruptionbudgets,networkpolicies,persistentvolumeclaims,servicemonitors,prometheusrules \
    -A -l app.kubernetes.io/instance=$REL -o name 2>&1)
  left+=$(kn get pods -o name | grep -v quayemu || true)
  [[ -z $left ]] && break
  sleep 2
done
[[ -z $left ]] && ok "helm uninstall left nothing behind (pods gone after $((SECONDS - t))s)" || fail "left behind after uninstall: $left"

log "wall time: $(($(date +%s) - T0))s; failures: $fails"
((fails == 0))
