#!/usr/bin/env bash
# make test-k8s: the Helm chart on a real Kubernetes.
#
#   - builds the images with buildah (hack/build-images.sh) and loads them;
#   - helm lint --strict (defaults and every ci/ values file);
#   - the objects rendered for the defaults and for ci/all-features-values.yaml
#     pass kubectl apply --dry-run=server --validate=strict;
#   - runs the quay emulation (hack/quayemu: token auth, a private repository,
#     302s to signed CDN URLs, a public registry; and Docker Hub's, GHCR's and
#     a self-serving registry's flavors) in the cluster, and installs
#     the chart in front of it (hack/k8s/values.yaml: the defaults with the
#     emulation's endpoints) with helm install --wait; squid -k parse passes
#     on the rendered squid.conf in every pod;
#   - helm test passes: every replica pulls a public registry blob, a public
#     quay blob and a private quay blob twice, digests match and the second
#     pulls are TCP_MEM_HIT;
#   - with prometheus-operator in the cluster: the ServiceMonitor's targets are
#     up, squid_up is 1 and the probe verdicts are in Prometheus, and every
#     alert and recording rule of alerts/ is loaded (read from its API);
#   - broken releases fail helm test with the reason: cache_mem 0
#     (not_cached), and a CA bundle the clients do not trust (tls);
#   - the chart's attack surface (docs/security.md, "The Helm chart"): two
#     renders hold no key material; the hook Job made an ECDSA CA with
#     pathlen 0 and name constraints, and the clients' ConfigMap holds it from
#     the first install; a client pod (hack/proxycheck, as a build pod) gets
#     Squid's denial for every forbidden destination (loopback, the pod's own
#     ports, link-local and metadata addresses, cluster Services and pods, by
#     address and by name, plain and CONNECT); a leaf Squid mints for a name
#     outside the constraints is rejected by Go's verifier and openssl; a
#     probe-target edit does not restart Squid; a pod deleted during a large
#     download lets it finish;
#   - helm upgrade with changed values rolls the pods and keeps the CA;
#   - a release with persistence (a static hostPath volume) and 2 SMP workers
#     sharing a rock cache_dir passes helm test, and after its pod is deleted
#     or replaced by an upgrade the probe's blob is a disk hit;
#   - a release caching Docker Hub and GHCR (squid.cachedRegistries) and a
#     registry that serves its private blobs itself: the probe passes on each
#     one's private image, second pulls memory hits, leak checks clean;
#   - helm uninstall leaves only the kept CA, its ConfigMap and the cache
#     manager password behind, and a second install takes the same CA;
#   - docs/runbooks.md: every `sh` block runs against the release (the
#     reading ones while the probe-target edit reaches the pods, the ones
#     that change the release before it goes back to its good values) and
#     exits 0; Prometheus evaluates every `promql` block;
#   - README, "Deploy for quay.io": its marked blocks, lifted from the README,
#     run as written but for the emulation's endpoints (quay_deploy says
#     which): the install, helm test, and a skopeo Job that trusts the CA from
#     the chart's ConfigMap and pulls a private image twice through the
#     proxy, the second time every blob a hit in Squid's access log.
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
# kx CMD...: CMD where kubectl and helm reach the cluster (in its netns).
kx() { if [[ -n ${KUBECONFIG:-} ]]; then "$@"; else "$CLUSTER" exec -- "$@"; fi; }
BNS=$NS-builds  # the README's build namespace

cleanup() {
  hn uninstall "$REL" --wait >/dev/null 2>&1 || true
  k delete namespace "$BNS" --wait=false >/dev/null 2>&1 || true
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
tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' $CHART/Chart.yaml)
# The client of the README's skopeo Job (quay_deploy).
hack/k8s/skopeo-image.sh "$IMAGES/skopeo.tar" "localhost/squid-cache-exporter/skopeo:$tag"
for f in squid squid-cache-exporter quayemu skopeo; do load "$(realpath "$IMAGES/$f.tar")"; done
ok "images built and loaded (tag $tag)"

# --- lint and server-side validation
# Each ci/ values file, as chart-testing lints them (the bare defaults name no
# proxy clients, which the chart refuses: ci/default-values.yaml adds them).
for f in $CHART/ci/*.yaml; do
  if h lint --strict $CHART --kube-version "$kube_version" -f "$f" >"$WORK/lint.log" 2>&1; then
    ok "helm lint --strict $f"
  else
    fail "helm lint --strict $f"; cat "$WORK/lint.log" >&2
  fi
done
if h template "$REL" $CHART --kube-version "$kube_version" >/dev/null 2>"$WORK/refused.log" || ! grep -q 'networkPolicy.proxyFromNamespaces' "$WORK/refused.log"; then
  fail "the bare defaults rendered, or without naming networkPolicy.proxyFromNamespaces"; cat "$WORK/refused.log" >&2
else
  ok "the bare defaults are refused: $(grep -o 'networkPolicy: say who may use the proxy' "$WORK/refused.log")"
fi
k delete namespace "$NS" --wait=true --timeout=2m >/dev/null 2>&1 || true
k create namespace "$NS" >/dev/null
# Objects of APIs the cluster does not serve (trust-manager's Bundle) are
# left out, and named.
served=$(k api-resources --no-headers 2>/dev/null | awk '{print $NF}' | sort -u)
# all-features' trust-manager Role lives in trust-manager's namespace.
made_trust_ns=0
if ! k get namespace cert-manager >/dev/null 2>&1; then k create namespace cert-manager >/dev/null && made_trust_ns=1; fi
for f in $CHART/ci/default-values.yaml $CHART/ci/all-features-values.yaml $CHART/ci/openshift-values.yaml; do
  h template "$REL" $CHART -n "$NS" --kube-version "$kube_version" -f "$f" >"$WORK/rendered-all.yaml"
  without_unserved() { awk -v served="$served" 'BEGIN { n = split(served, s, "\n"); for (i = 1; i <= n; i++) ok[s[i]] = 1 }
    /^---/ { if (doc != "" && keep) print doc "---"; doc = ""; keep = 1; next }
    /^kind: / { if (!($2 in ok)) { keep = 0; print $2 > "/dev/stderr" } }
    { doc = doc $0 "\n" } END { if (doc != "" && keep) print doc }'; }
  without_unserved <"$WORK/rendered-all.yaml" >"$WORK/rendered.yaml" 2>"$WORK/skipped.txt"
  skipped=$(sort -u "$WORK/skipped.txt" | tr '\n' ' ')
  if k apply --dry-run=server --validate=strict -f "$WORK/rendered.yaml" >"$WORK/dry-run.log" 2>&1; then
    ok "kubectl apply --dry-run=server --validate=strict: $f ($(grep -c '^kind:' "$WORK/rendered.yaml") objects${skipped:+; not served here: $skipped})"
  else
    fail "server-side validation of $f"; cat "$WORK/dry-run.log" >&2
  fi
done
((made_trust_ns)) && k delete namespace cert-manager --wait=false >/dev/null

# --- no key material in what Helm renders: two renders are the same, and
# hold no Secret and no private key (the hook Job makes them in the cluster).
for i in 1 2; do
  h template "$REL" $CHART -n "$NS" --kube-version "$kube_version" -f hack/k8s/values.yaml >"$WORK/render$i.yaml"
done
if cmp -s "$WORK/render1.yaml" "$WORK/render2.yaml" && ! grep -qE 'PRIVATE KEY|^kind: Secret$|password:' "$WORK/render1.yaml"; then
  ok "two helm template runs render the same $(grep -c '^kind:' "$WORK/render1.yaml") objects, with no Secret, key or password"
else
  fail "renders differ or hold key material"; diff "$WORK/render1.yaml" "$WORK/render2.yaml" | head >&2
  grep -nE 'PRIVATE KEY|^kind: Secret$|password:' "$WORK/render1.yaml" | head >&2
fi

# --- the registries: the quay emulation
sed "s|localhost/squid-cache-exporter/quayemu:TAG|localhost/squid-cache-exporter/quayemu:$tag|" hack/k8s/quayemu.yaml | kn apply -f - >/dev/null
kn rollout status deployment/quayemu --timeout=2m >/dev/null || die "the quay emulation did not start"
k get --raw "/api/v1/namespaces/$NS/services/quay:control/proxy/ca.pem" >"$WORK/quayemu-ca.pem"
grep -q 'BEGIN CERTIFICATE' "$WORK/quayemu-ca.pem" || die "no CA from the quay emulation"
kn create configmap quayemu-ca --from-file=ca.crt="$WORK/quayemu-ca.pem" >/dev/null
kn create secret docker-registry probe-pull-secret --docker-server=quay.test \
  --docker-username=probe --docker-password=probe-password >/dev/null
# The same user on the other flavors' registries (registries()).
auth=$(printf probe:probe-password | base64)
ECR_HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com
printf '{"auths":{"registry-1.docker.io":{"auth":"%s"},"ghcr.io":{"auth":"%s"},"harbor.test":{"auth":"%s"},"us-docker.pkg.dev":{"auth":"%s"},"%s":{"auth":"%s"}}}' \
  "$auth" "$auth" "$auth" "$auth" "$ECR_HOST" "$auth" >"$WORK/registries-auth.json"
kn create secret generic registries-pull-secret --type=kubernetes.io/dockerconfigjson \
  --from-file=.dockerconfigjson="$WORK/registries-auth.json" >/dev/null
quay_ip=$(kn get service quay -o jsonpath='{.spec.clusterIP}')
# evil.test and loopback.quay.test (a cached domain) point at the pod's
# loopback: the proxy must refuse them. outside.test is the emulation under a
# name the CA may not sign for (name_constraints adds it to cachedDomains).
cat >"$WORK/hosts.yaml" <<EOF
hostAliases:
  - ip: $quay_ip
    hostnames: [quay.test, cdn01.quay.test, registry.access.test, outside.test, harbor.test,
      registry-1.docker.io, production.cloudfront.docker.com, ghcr.io, pkg-containers.githubusercontent.com,
      us-docker.pkg.dev, $ECR_HOST, prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com]
  - ip: 127.0.0.1
    hostnames: [evil.test, loopback.quay.test]
squid:
  allowedDestinations: [$quay_ip/32]
EOF
ok "quay emulation up at $quay_ip (quay.test, cdn01.quay.test, registry.access.test; Docker Hub's, GHCR's, Artifact Registry's, ECR's and harbor.test)"
VALUES=(-f hack/k8s/values.yaml -f hack/k8s/monitoring.yaml -f "$WORK/hosts.yaml")

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

# client NAME ARGS...: runs hack/proxycheck in a pod of the namespace, as a
# build pod would, with the clients' CA ConfigMap mounted at /ca; prints its
# output, returns its exit code. client_start only starts it.
client() {
  client_start "$@"
  client_wait "$1"
}

client_start() {
  local name=$1; shift
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  kn delete pod "$name" --ignore-not-found --wait=true >/dev/null 2>&1
  kn apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {app: proxycheck}}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: client
      image: localhost/squid-cache-exporter/quayemu:$tag
      imagePullPolicy: IfNotPresent
      command: [/usr/local/bin/proxycheck]
      args: $args
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: ca, mountPath: /ca}]
  volumes: [{name: ca, configMap: {name: $FULL-ca}}]
EOF
}

# pod_end NAME: waits up to 5 minutes for a pod to end; prints its phase.
pod_end() {
  local phase=""
  for _ in $(seq 300); do
    phase=$(kn get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null)
    [[ $phase == Succeeded || $phase == Failed ]] && break
    sleep 1
  done
  echo "$phase"
}

# client_wait NAME: waits for a client pod to end; prints its log, returns
# whether it succeeded.
client_wait() {
  local phase
  phase=$(pod_end "$1")
  kn logs "$1" 2>&1
  kn delete pod "$1" --wait=false >/dev/null 2>&1
  [[ $phase == Succeeded ]]
}

# The CA the Job made: ECDSA P-256, a CA for no further CAs (pathlen 0),
# certificate and CRL signing only, permitted to sign for the cached domains
# only, and in the clients' ConfigMap from the first install on.
check_ca() {
  kn get secret "$FULL-ca" -o jsonpath='{.data.tls\.crt}' | base64 -d >"$WORK/ca.pem"
  kn get configmap "$FULL-ca" -o jsonpath='{.data.ca\.crt}' >"$WORK/ca-configmap.pem"
  openssl x509 -in "$WORK/ca.pem" -noout -text >"$WORK/ca.txt" 2>&1 || true
  local missing=() want days
  for want in 'ASN1 OID: prime256v1' 'CA:TRUE, pathlen:0' 'Certificate Sign, CRL Sign' 'Permitted:' 'DNS:quay.test' 'DNS:registry.access.test' 'IP:0.0.0.0/0.0.0.0'; do
    grep -qF "$want" "$WORK/ca.txt" || missing+=("$want")
  done
  days=$((($(date -d "$(openssl x509 -in "$WORK/ca.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400))
  if ((${#missing[@]} == 0 && days > 300 && days <= 366)); then
    ok "the Job's CA: ECDSA P-256, pathlen:0, keyCertSign+cRLSign, permitted $(grep -o 'DNS:[^,]*' "$WORK/ca.txt" | tr '\n' ' ')and no IP address; valid $days days"
  else
    fail "the CA lacks: ${missing[*]} (valid $days days)"; cat "$WORK/ca.txt" >&2
  fi
  if [[ -s $WORK/ca-configmap.pem ]] && [[ $(openssl x509 -in "$WORK/ca.pem" -outform der | sha256sum) == \
    "$(openssl x509 -in "$WORK/ca-configmap.pem" -outform der | sha256sum)" ]]; then
    ok "the clients' ConfigMap $FULL-ca holds the CA from the first install"
  else
    fail "the clients' ConfigMap does not hold the CA"
  fi
}

# Every destination a build pod must not reach through the proxy, by address
# and by name, plain and tunnelled: Squid's own pod (the exporter's log
# receiver and metrics, the helpers, the cache manager), loopback in its
# spellings, the link-local and cloud metadata addresses, the cluster's
# Services (the API) and pods, and ports outside the safe ones.
forbidden_destinations() {
  local pod_ip quay_pod_ip
  pod_ip=$(kn get pod "$FULL-0" -o jsonpath='{.status.podIP}')
  quay_pod_ip=$(kn get pods -l app=quayemu -o jsonpath='{.items[0].status.podIP}')
  if client forbidden -proxy "$FULL.$NS.svc:3128" deny \
    "GET http://127.0.0.1:5140/" "GET http://127.0.0.1:9301/metrics" "GET http://localhost:9302/metrics" \
    "GET http://[::1]:9301/metrics" "GET http://0.0.0.0:9301/metrics" "GET http://127.1:9303/metrics" \
    "GET http://$pod_ip:9301/metrics" "GET http://$pod_ip:3128/squid-internal-mgr/info" "GET http://$pod_ip:5140/" \
    "GET http://$pod_ip/" "CONNECT $pod_ip:443" "GET http://127.0.0.1/" "GET http://$quay_pod_ip/" \
    "GET http://evil.test:9301/metrics" "CONNECT evil.test:443" "CONNECT loopback.quay.test:443" "CONNECT 127.0.0.1:443" \
    "GET http://169.254.169.254/latest/meta-data/" "GET http://[fe80::1]/" "GET http://[fd00:ec2::254]/latest/meta-data/" \
    "GET http://100.100.100.200/latest/meta-data/" "CONNECT 169.254.169.254:443" \
    "GET http://10.96.0.1:443/api" "GET http://kubernetes.default.svc.cluster.local/api" "CONNECT 10.96.0.1:443" \
    "CONNECT kubernetes.default.svc.cluster.local:443" "GET http://$quay_pod_ip:8080/ca.pem" "CONNECT $quay_pod_ip:8443" \
    "GET http://quay.test:8080/ca.pem" "CONNECT quay.test:8443" >"$WORK/forbidden.log" 2>&1; then
    ok "a client pod got Squid's ERR_ACCESS_DENIED for all $(grep -c '^denied' "$WORK/forbidden.log") forbidden destinations"
    sed 's/^/     /' "$WORK/forbidden.log" >&2
  else
    fail "forbidden destinations reached or not denied"; cat "$WORK/forbidden.log" >&2
  fi
}

# A name the CA may not sign for: outside.test, added to cachedDomains after
# the CA was made. Squid bumps it and mints a leaf, which clients refuse;
# quay.test's leaf verifies. Both verifiers: Go's and openssl's.
name_constraints() {
  client tls-quay -proxy "$FULL.$NS.svc:3128" -ca /ca/ca.crt tls quay.test >"$WORK/tls-quay.log" 2>&1 || true
  client tls-outside -proxy "$FULL.$NS.svc:3128" -ca /ca/ca.crt tls outside.test >"$WORK/tls-outside.log" 2>&1 || true
  sed -n '/BEGIN CERT/,/END CERT/p' "$WORK/tls-quay.log" >"$WORK/leaf-quay.pem"
  sed -n '/BEGIN CERT/,/END CERT/p' "$WORK/tls-outside.log" >"$WORK/leaf-outside.pem"
  local go_quay go_outside ssl_quay ssl_outside
  go_quay=$(head -1 "$WORK/tls-quay.log") go_outside=$(head -1 "$WORK/tls-outside.log")
  ssl_quay=$(openssl verify -CAfile "$WORK/ca.pem" "$WORK/leaf-quay.pem" 2>&1 | tail -1)
  ssl_outside=$(openssl verify -CAfile "$WORK/ca.pem" "$WORK/leaf-outside.pem" 2>&1 | grep -m1 'error' || echo "no error")
  if [[ $go_quay == verified && $go_outside == rejected:*constraint* && $ssl_quay == *OK && $ssl_outside == *"subtree violation"* ]]; then
    ok "name constraints: quay.test's leaf verifies; outside.test's is refused by Go ($go_outside) and openssl ($ssl_outside)"
  else
    fail "name constraints: quay.test: go '$go_quay', openssl '$ssl_quay'; outside.test: go '$go_outside', openssl '$ssl_outside'"
    cat "$WORK/tls-quay.log" "$WORK/tls-outside.log" >&2
  fi
}

# A pod deleted while a client pulls a 32 MiB layer through it at 2 MB/s:
# the preStop drain lets the download finish, digest checked, within the
# grace period; the pod is gone soon after it.
download_survives_rollout() {
  local name=slow-pull
  client_start "$name" -proxy "$FULL-0.$FULL-headless.$NS.svc:3128" -ca /ca/ca.crt -rate 2000000 -timeout 12s \
    pull registry.access.test/org/big:latest
  kn wait --for=condition=Ready pod/"$name" --timeout=60s >/dev/null 2>&1 || true
  sleep 4
  local t=$SECONDS
  kn delete pod "$FULL-0" --wait=false >/dev/null
  if client_wait "$name" >"$WORK/slow-pull.log" 2>&1 && grep -q 'digest matches' "$WORK/slow-pull.log"; then
    ok "a pod deleted 4 s into a 32 MiB download at 2 MB/s: the client finished it ($(cat "$WORK/slow-pull.log" | tail -1); $((SECONDS - t)) s after the delete)"
  else
    fail "the download through a deleted pod did not finish"; cat "$WORK/slow-pull.log" >&2
  fi
  kn rollout status statefulset/"$FULL" --timeout=3m >/dev/null || fail "the StatefulSet did not come back"
  # An idle pod stops in the drain's settle time and shutdown_lifetime.
  t=$SECONDS
  kn delete pod "$FULL-1" --wait=true --timeout=2m >/dev/null
  local idle=$((SECONDS - t))
  ((idle < 30)) && ok "an idle pod stopped in $idle s (preStop settle 5 s, shutdown_lifetime 3 s)" || fail "an idle pod took $idle s to stop"
  kn rollout status statefulset/"$FULL" --timeout=3m >/dev/null || fail "the StatefulSet did not come back"
}

# An edited probe target reaches the exporter with no restart of Squid: the
# pods and their containers' restart counts stay; the exporter of each
# replica reports the new target within ~2 minutes (kubelet's ConfigMap
# sync, then the exporter's 15 s check). Split in two, so that other checks
# that change nothing of the release run while the edit travels.
probe_edit_start() {
  probe_edit_t=$SECONDS
  probe_edit_before=$(kn get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=squid \
    -o jsonpath='{range .items[*]}{.metadata.uid}{range .status.containerStatuses[*]}/{.restartCount}{end}{"\n"}{end}' | sort)
  cat >"$WORK/probe-edit.yaml" <<EOF
probe:
  targets:
    - {name: registry-public, image: "registry.access.test/ubi9/ubi-micro:latest", layer: -1, interval: 1m}
    - {name: quay-public, image: "quay.test/org/public:latest", layer: -1, interval: 1m}
    - {name: quay-private, image: "quay.test/org/private:latest", layer: -1, private: true, interval: 1m}
    - {name: registry-big, image: "registry.access.test/org/big:latest", layer: -1, interval: 1m, timeout: 50s}
EOF
  hn upgrade "$REL" $CHART "${VALUES[@]}" -f "$WORK/probe-edit.yaml" --wait --timeout 5m >/dev/null
}

probe_edit_finish() {
  local after seen=0 before=$probe_edit_before t=$probe_edit_t
  for _ in $(seq 60); do
    seen=0
    for i in 0 1; do
      k get --raw "/api/v1/namespaces/$NS/pods/$FULL-$i:9301/proxy/metrics" 2>/dev/null | grep -q 'squid_probe_success{target="registry-big"}' && seen=$((seen + 1))
    done
    ((seen == 2)) && break
    sleep 5
  done
  after=$(kn get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=squid \
    -o jsonpath='{range .items[*]}{.metadata.uid}{range .status.containerStatuses[*]}/{.restartCount}{end}{"\n"}{end}' | sort)
  if [[ $before == "$after" && $seen == 2 ]]; then
    ok "a probe-target edit: both exporters probe the new target after $((SECONDS - t)) s; the pods and Squid's restart counts are the same"
  else
    fail "probe-target edit: pods before [$before] after [$after]; exporters with the new target: $seen of 2"
  fi
}

# md_blocks FILE LANG DIR: writes each fenced ```LANG block of FILE, without
# its indentation, to DIR/001, DIR/002, ...
md_blocks() {
  mkdir -p "$3"
  awk -v lang="$2" -v dir="$3" '
    !open { if (match($0, /^ *```/)) { open = 1; ind = RLENGTH - 3; keep = substr($0, RLENGTH + 1) == lang
              if (keep) file = sprintf("%s/%03d", dir, ++n) }
            next }
    /^ *```$/ { open = 0; if (keep) close(file); next }
    keep { print substr($0, ind + 1) > file }' "$1"
}

# md_marked FILE TAG DIR: writes the fenced block after each line
# "<!-- TAG: NAME -->" of FILE to DIR/NAME.
md_marked() {
  mkdir -p "$3"
  awk -v tag="$2" -v dir="$3" '
    $0 ~ "^<!-- " tag ": [a-z-]+ -->$" { name = $3; next }
    name != "" && !open && /^```/ { open = 1; file = dir "/" name; printf "" > file; next }
    open && /^```$/ { open = 0; close(file); name = ""; next }
    open { print > file }' "$1"
}

# --- docs/runbooks.md, run as an on-call engineer would paste it: the first
# sh block (the release, namespace, replica, and the port-forward helper)
# before each of the others, in bash -eu -o pipefail where kubectl reaches
# the cluster, with this test's release, replica 0 and the emulation's CDN
# host. A block whose first line says "# Changes the release" runs in
# "runbooks_run change"; the others in runbooks_read.
RUNBOOKS=$WORK/runbooks
md_blocks docs/runbooks.md sh "$RUNBOOKS/sh"
md_blocks docs/runbooks.md promql "$RUNBOOKS/promql"
runbook() {
  kx env NAMESPACE="$NS" RELEASE="$REL" POD="$FULL-0" CDN=cdn01.quay.test \
    bash -eu -o pipefail -c "$(cat "$RUNBOOKS/sh/001" "$1")"
}
runbooks_run() { # read|change
  local f n=0 bad=0 t=$SECONDS
  for f in "$RUNBOOKS"/sh/*; do
    [[ $f == */001 ]] && continue
    if head -1 "$f" | grep -q '^# Changes the release'; then [[ $1 == change ]] || continue; else [[ $1 == read ]] || continue; fi
    n=$((n + 1))
    if ! runbook "$f" >"$f.log" 2>&1; then
      bad=$((bad + 1)); fail "docs/runbooks.md: this block exits non-zero:"; sed 's/^/     | /' "$f" >&2; sed 's/^/     > /' "$f.log" | tail -20 >&2
    fi
  done
  ((n > 0)) || fail "docs/runbooks.md: no $1 block found"
  if ((bad == 0 && n > 0)); then
    ok "docs/runbooks.md: all $n blocks that $([[ $1 == read ]] && echo "only read" || echo "change the release") ran on $REL and exited 0 ($((SECONDS - t))s)"
  fi
}
runbooks_read() {
  runbooks_run read
  [[ -s $RUNBOOKS/sh/001 ]] && grep -q 'forward()' "$RUNBOOKS/sh/001" || fail "docs/runbooks.md: its first sh block does not set up the release and forward()"
  # What the reading blocks showed: the cache manager answered every report,
  # and a probe round ran.
  local reports probed
  reports=$(cat "$RUNBOOKS"/sh/*.log | grep -cE '^(info|counters|storedir|service_times|store_id): 200$' || true)
  probed=$(cat "$RUNBOOKS"/sh/*.log | grep -cE 'PASS|FAIL' || true)
  ((reports == 5 && probed > 0)) && ok "the runbooks' commands read all 5 cache manager reports through a port-forward, and ran a probe round" ||
    fail "the runbooks' commands: $reports reports of 5 answered 200, probe verdict lines: $probed"
  if k -n monitoring get service prometheus >/dev/null 2>&1; then
    local f q n=0 bad=0
    for f in "$RUNBOOKS"/promql/*; do
      q=$(grep -v '^ *#' "$f" | tr '\n' ' ')
      n=$((n + 1))
      [[ $(promq "$q" | jq -r .status) == success ]] || { bad=$((bad + 1)); fail "docs/runbooks.md: Prometheus refuses: $q"; }
    done
    if ((bad == 0 && n > 0)); then ok "docs/runbooks.md: Prometheus evaluates all $n promql blocks"; fi
  fi
}

# --- README, "Deploy for quay.io", followed on this cluster: the blocks marked
# <!-- deploy-quay: NAME --> are lifted from the README and run as written, in
# the order a user runs them, with these substitutions only:
#   - step 1 (images) is not run: the images are the ones built and loaded
#     above, so hack/k8s/quay-deploy.yaml points the values at them (the
#     cluster pulls from no registry); the skopeo Job's image, which the
#     cluster cannot pull either, is hack/k8s/skopeo-image.sh's;
#   - quay.io, registry.access.redhat.com and the README's images are the
#     emulation's quay.test, registry.access.test and its images (a public
#     quay image, a private one, the ubi-micro one), the robot is its user
#     "probe"; hack/k8s/quay-deploy.yaml and the hostAliases of the other
#     releases add its endpoints (its CA for Squid, its CDN's URL pattern,
#     its address as an allowed destination), laid over the README's values;
#   - the namespaces proxy and builds are this test's $NS and $BNS, and
#     "kubectl create namespace proxy" is left out ($NS exists);
#   - one replica instead of the README's two: two replicas could send the
#     skopeo Job's second pull to the other cache, and the node has 2 cores.
# Then: helm test passes, both Jobs complete, the second one's blobs are all
# hits in Squid's access log (the exporter's echo), and the monitoring
# objects carry the kube-prometheus-stack label.
QUAY=$WORK/quay
quay_deploy() {
  local t=$SECONDS b ips first second lines
  mkdir -p "$QUAY" && ln -sfn "$PWD/charts" "$QUAY/charts"
  md_marked README.md deploy-quay "$QUAY/md"
  for b in images secret values install test ca-copy skopeo-secret skopeo-job skopeo-run; do
    [[ -s $QUAY/md/$b ]] || { fail "README: no block marked <!-- deploy-quay: $b -->"; return; }
  done
  sub() {
    sed -e "s|quay\.io/skopeo/stable:[^\" ]*|localhost/squid-cache-exporter/skopeo:$tag|" \
      -e 's|quay\.io/YOUR_ORG/YOUR_PRIVATE_IMAGE:TAG|quay.test/org/private:latest|g' \
      -e 's|quay\.io/prometheus/node-exporter:v1\.8\.2|quay.test/org/public:latest|g' \
      -e 's|registry\.access\.redhat\.com/ubi9/ubi-micro:latest|registry.access.test/ubi9/ubi-micro:latest|g' \
      -e 's|registry\.access\.redhat\.com|registry.access.test|g' -e 's|quay\.io|quay.test|g' \
      -e 's|YOUR_ORG+squid_cache|probe|g' \
      -e '/^kubectl create namespace proxy$/d' -e "s|-n proxy\\b|-n $NS|g" -e "s|\\.proxy\\.svc|.$NS.svc|g" \
      -e "s|\\bbuilds\\b|$BNS|g" \
      -e "s|-f squid-cache-values\\.yaml|& -f $PWD/hack/k8s/quay-deploy.yaml -f $WORK/hosts.yaml|" "$QUAY/md/$1"
  }
  sub values >"$QUAY/squid-cache-values.yaml"
  sub skopeo-job >"$QUAY/skopeo-pull.yaml"
  for b in secret install test ca-copy skopeo-secret skopeo-run; do
    sub $b >"$QUAY/$b.sh"
    if ! kx env QUAY_ROBOT_TOKEN=probe-password bash -eu -o pipefail -c "cd '$QUAY' && $(cat "$QUAY/$b.sh")" >"$QUAY/$b.log" 2>&1; then
      fail "README, Deploy for quay.io: the block $b exits non-zero"; sed 's/^/     | /' "$QUAY/$b.sh" >&2; sed 's/^/     > /' "$QUAY/$b.log" | tail -30 >&2
      kn get pods >&2 || true
      return
    fi
    case $b in
      install) ok "README, Deploy for quay.io: helm install from its values file ($((SECONDS - t))s)" ;;
      test) ok "README, Deploy for quay.io: helm test $(grep -o 'Phase: *Succeeded' "$QUAY/test.log" | head -1)" ;;
    esac
  done
  # The Jobs' pods, oldest first; their lines in Squid's access log.
  ips=$(k -n "$BNS" get pods -l job-name --sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[*]}{.status.podIP}{" "}{end}')
  read -r first second <<<"$ips"
  kn logs cache-squid-cache-0 -c exporter >"$QUAY/access.log"
  blob_lines() { awk -v ip="$1" '$3 == ip && $7 ~ /\/sha256[:\/]/ && $4 ~ /\/200$/ {print $4, $7}' "$QUAY/access.log"; }
  lines=$(blob_lines "$second" | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  if [[ -n $first && -n $second && -n $(blob_lines "$first") && -n $(blob_lines "$second") ]] &&
    ! blob_lines "$second" | grep -vqE '^TCP_(MEM_)?HIT/200 '; then
    ok "README, Deploy for quay.io: two skopeo Jobs pulled quay.test/org/private through the proxy with the chart's CA; the second's blob deliveries:${lines%,} ($((SECONDS - t))s in all)"
  else
    fail "README, Deploy for quay.io: the second skopeo pull's blobs are not all hits (Job pods: $ips)"
    blob_lines "$first" | sed 's/^/     first:  /' >&2; blob_lines "$second" | sed 's/^/     second: /' >&2
    sed 's/^/     > /' "$QUAY/skopeo-run.log" | tail -20 >&2
  fi
  if k api-resources --no-headers 2>/dev/null | grep -q '^servicemonitors '; then
    local labels
    labels=$(kn get servicemonitor,prometheusrule cache-squid-cache -o jsonpath='{range .items[*]}{.kind}:{.metadata.labels.release} {end}')
    if [[ $labels == "ServiceMonitor:monitoring PrometheusRule:monitoring " ]] && k -n monitoring get configmap cache-squid-cache-dashboard >/dev/null 2>&1; then
      ok "README, Deploy for quay.io: ServiceMonitor and PrometheusRule labelled release: monitoring, the dashboard's ConfigMap in namespace monitoring"
    else
      fail "README, Deploy for quay.io: monitoring objects: $labels"
    fi
  fi
  # Its pods go while the checks after this one run (no --wait).
  hn uninstall cache >/dev/null 2>&1 || fail "helm uninstall of the README's release"
  kn delete secret,configmap -l app.kubernetes.io/instance=cache >/dev/null 2>&1 || true
  k delete namespace "$BNS" --wait=false >/dev/null 2>&1 || true
}

# Squid's memory as measured by the kubelet, per container of replica 0,
# after the tests' pulls: what resources.requests are sized from.
memory_in_use() {
  k get --raw "/api/v1/nodes/$(k get nodes -o jsonpath='{.items[0].metadata.name}')/proxy/stats/summary" 2>/dev/null |
    jq -r --arg ns "$NS" --arg pod "$FULL-0" '.pods[] | select(.podRef.namespace == $ns and .podRef.name == $pod) |
      .containers[] | "\(.name) \((.memory.workingSetBytes // 0) / 1048576 | floor) MiB"' | tr '\n' ' '
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
check_ca
# An immutable StatefulSet field: the chart says so before Kubernetes would.
if hn upgrade "$REL" $CHART "${VALUES[@]}" --set podManagementPolicy=OrderedReady >"$WORK/immutable.log" 2>&1; then
  fail "helm upgrade changed podManagementPolicy on an installed StatefulSet"
elif grep -q 'cannot change it in place.*--cascade=orphan' "$WORK/immutable.log"; then
  ok "helm upgrade of podManagementPolicy refused with the procedure: $(grep -o 'podManagementPolicy is [^:]*' "$WORK/immutable.log")"
else
  fail "podManagementPolicy: refused without the procedure"; cat "$WORK/immutable.log" >&2
fi

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
    [[ $up == 6 ]] || up=$(promq "sum(up{namespace=\"$NS\",service=\"$FULL-metrics\"})" | jq -r '.data.result[0].value[1] // 0')
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
  # The private target's leak check (on by default) ran on both replicas
  # and got nothing of the blob without access.
  tight=$(promq "count(squid_probe_private_blob_leaked{namespace=\"$NS\"} == 0)" | jq -r '.data.result[0].value[1] // 0')
  [[ $tight == 2 ]] && ok "Prometheus: the private target's leak check ran on both replicas and leaked nothing (squid_probe_private_blob_leaked 0)" || fail "Prometheus: squid_probe_private_blob_leaked is 0 on $tight of 2 replicas"
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
# After the traffic checks, which count the prober as the only client.
forbidden_destinations
probe_edit_start
runbooks_read
quay_deploy
probe_edit_finish
log "memory in use on replica 0 after the pulls: $(memory_in_use)"

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
if hn install ext $CHART -f hack/k8s/values.yaml -f hack/k8s/monitoring.yaml -f "$WORK/ext.yaml" --wait --timeout 3m >"$WORK/ext.log" 2>&1; then
  ext_ip=$(kn get service ext-squid-cache -o jsonpath='{.spec.clusterIP}')
  # The chart's own logformat carries its per-pod token first; this exporter
  # reads the plain squid_probe fields.
  fields=$(grep -A1 'define "squid-cache.logformatFields"' $CHART/templates/configmap.yaml | tail -1)
  cat >"$WORK/log-to-ext.yaml" <<EOF
squid:
  extraConfig: |
    acl pods src $pod_cidr
    http_access allow pods manager
    logformat squid_probe_ext $fields
    access_log tcp://$ext_ip:5140 logformat=squid_probe_ext on-error=drop
EOF
  hn upgrade "$REL" $CHART "${VALUES[@]}" -f "$WORK/log-to-ext.yaml" --wait --timeout 5m >/dev/null
  ok "an exporter-only release (squid.enabled=false) for replica 0 of $REL ($((SECONDS - t))s)"
  helm_test pass "" ext
  ext_up=$(k get --raw "/api/v1/namespaces/$NS/services/ext-squid-cache-metrics:metrics/proxy/metrics" | grep -E '^squid_up ' || true)
  [[ $ext_up == "squid_up 1" ]] && ok "its squid_up is 1: it reads the existing Squid's cache manager" || fail "existing Squid: $ext_up"
  hn uninstall ext --wait >/dev/null
else
  fail "helm install of the exporter-only release"; cat "$WORK/ext.log" >&2
fi
pods0=$(pods)

# --- broken releases fail helm test, naming the reason
t=$SECONDS
# outside.test joins cachedDomains: the kept CA may not sign for it.
cat >"$WORK/outside.yaml" <<EOF
squid:
  cachedDomains: [.quay.test, registry.access.test, outside.test]
EOF
hn upgrade "$REL" $CHART "${VALUES[@]}" -f "$WORK/outside.yaml" --set squid.cacheMem="0 MB" --wait --timeout 5m >/dev/null
pods1=$(pods)
[[ -z $(comm -12 <(echo "$pods0") <(echo "$pods1")) ]] && ok "helm upgrade (cache_mem 0) rolled both pods ($((SECONDS - t))s)" || fail "helm upgrade left pods unchanged: $pods1"
[[ $(ca_sum) == "$ca0" && $(secret_sum) == "$secret0" ]] && ok "the CA is kept across the upgrade" || fail "the CA changed on upgrade"
helm_test fail not_cached
name_constraints

openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=not the proxy CA" -days 1 -out "$WORK/other-ca.pem" 2>/dev/null
kn create configmap untrusted-bundle --from-file=ca.crt="$WORK/other-ca.pem" >/dev/null
hn upgrade "$REL" $CHART "${VALUES[@]}" --set probe.caConfigMap=untrusted-bundle --wait --timeout 5m >/dev/null
helm_test fail tls
# The runbooks' blocks that change the release (helm upgrade --reuse-values,
# a StatefulSet removed with its pods kept, a pod deleted): they must work on
# the release as it is; the upgrade below takes it back to the good values,
# and its helm test passes after them.
runbooks_run change

# --- back to the good values: pods roll, the CA is the same, the test passes
t=$SECONDS
hn upgrade "$REL" $CHART "${VALUES[@]}" --wait --timeout 5m >/dev/null
[[ -z $(comm -12 <(echo "$pods1") <(pods)) ]] && ok "helm upgrade back to the good values rolled the pods ($((SECONDS - t))s)" || fail "pods not rolled"
[[ $(ca_sum) == "$ca0" && $(secret_sum) == "$secret0" ]] && ok "the CA is the one of the first install after 3 upgrades" || fail "the CA changed"
helm_test pass
download_survives_rollout

# --- a cache that survives: a release with persistence and 2 SMP workers
# sharing a rock cache_dir, on a statically provisioned volume (the cluster
# has no provisioner: a hostPath PersistentVolume the test makes, owned by
# Squid's user, as a provisioner's volume would be with fsGroup). With
# workers the probe counts TCP_MEM_HIT and TCP_HIT (the second pull may
# reach the other worker). After the pod is deleted, and after a helm
# upgrade that replaces it, the probe's first pull is a disk hit (TCP_HIT:
# the memory cache went with the pod).
persistence() {
  local rel=pv full=pv-squid-cache dir t=$SECONDS first
  if [[ -n ${KUBECONFIG:-} ]]; then
    fail "persistence: needs the node's filesystem for its hostPath volume (the cluster tool's node is this machine)"
    return
  fi
  dir=$(mktemp -d /var/tmp/squid-cache-pv.XXXXXX)
  chown 13:13 "$dir" && chmod 0750 "$dir"
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: squid-cache-test-pv
  labels: {app: squid-cache-test}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: squid-cache-test-static
  hostPath: {path: $dir, type: Directory}
EOF
  cat >"$WORK/pv.yaml" <<EOF
replicaCount: 1
squid:
  workers: 2
  cacheDir: {type: rock, sizeMiB: 256}
  persistence: {enabled: true, storageClassName: squid-cache-test-static, size: 1Gi}
probe:
  targets:
    - name: quay-public
      image: quay.test/org/public:latest
      layer: -1
EOF
  if ! hn install $rel $CHART "${VALUES[@]}" -f "$WORK/pv.yaml" --wait --timeout 5m >"$WORK/pv.log" 2>&1; then
    fail "helm install with persistence and workers"; cat "$WORK/pv.log" >&2
    kn describe pod $full-0 >&2 || true; kn logs $full-0 -c squid --tail 30 >&2 || true
  else
    ok "a release with persistence, 2 workers and a rock cache_dir on a static hostPath volume ($((SECONDS - t))s)"
    helm_test pass "" $rel
    # pv_first_pull: the first pull's result code of a one-shot probe.
    pv_first_pull() {
      kn exec $full-0 -c exporter -- squid-cache-exporter probe --exporter-url=http://127.0.0.1:9301 2>&1 |
        sed -n 's/.*squid: *first pull \([A-Z_]*\),.*/\1/p' | head -1
    }
    # pv_rebuilt: Squid is ready while its workers still read the rock
    # cache_dir's index back, and an entry not yet read is a miss. With
    # workers, nothing in the container's log or a cache manager report the
    # exporter reads every scrape says when that is done; a 256 MiB db takes
    # well under a second, so the pull waits a few.
    pv_rebuilt() { sleep 5; }
    kn delete pod $full-0 --wait >/dev/null
    kn rollout status statefulset/$full --timeout 3m >/dev/null
    pv_rebuilt
    first=$(pv_first_pull)
    [[ $first == TCP_HIT ]] && ok "after the pod was deleted the probe's first pull is $first: the blob came from the persistent rock cache_dir" ||
      fail "after the pod was deleted the first pull is ${first:-none}, want TCP_HIT"
    hn upgrade $rel $CHART "${VALUES[@]}" -f "$WORK/pv.yaml" --set-string podAnnotations.rolled=1 --wait --timeout 5m >/dev/null
    pv_rebuilt
    first=$(pv_first_pull)
    [[ $first == TCP_HIT ]] && ok "after a helm upgrade that replaced the pod the first pull is $first ($((SECONDS - t))s in all)" ||
      fail "after helm upgrade the first pull is ${first:-none}, want TCP_HIT"
  fi
  hn uninstall $rel --wait --timeout 3m >/dev/null 2>&1 || true
  kn delete pvc -l app.kubernetes.io/instance=$rel --wait >/dev/null 2>&1 || true
  k delete pv squid-cache-test-pv --wait >/dev/null 2>&1 || true
  rm -rf "$dir"
}
persistence

# --- the other registries of the emulation, cached by one release: Docker
# Hub's, GHCR's, Artifact Registry's and ECR's on their real names
# (squid.cachedRegistries: their API and CDN hosts bumped, in the CA's name
# constraints; the helpers with the registries table's own rows; for
# Artifact Registry and ECR, whose CDN URLs name no digest, the ICAP
# sidecar learns the digest from the redirect), and harbor.test, which
# serves its private blobs itself (privateBlobs.selfServingRegistries), and
# quay.test. For each private image of the five the probe passes: its second pull a memory hit, and
# its leak check (the blob asked for without access) got no byte. Then
# skopeo, through the proxy, from each: the public and the private image
# as alice, then as bob (every blob of bob's a hit), and the private one
# anonymously and as mallory, who has no access (refused, no byte).
REGISTRIES=(quay.test registry-1.docker.io ghcr.io harbor.test us-docker.pkg.dev $ECR_HOST)
registries() {
  local rel=hb full=hb-squid-cache t=$SECONDS out n
  cat >"$WORK/hb.yaml" <<EOF
replicaCount: 1
squid:
  cachedDomains: [harbor.test, .quay.test]
  cachedRegistries: [docker.io, ghcr.io, gcr.io, ecr]
# The quay emulation's CDN beside the table's Docker Hub and GHCR ones
# (--url-pattern replaces the table's patterns).
privateBlobs:
  urlPatterns:
    - '^https://cdn[0-9]*\.quay\.test/[^?#]+/sha256/[a-f0-9]{2}/[a-f0-9]{64}$'
    - '^https://production\.cloud[a-z]+\.docker\.com/registry-v2/docker/registry/v2/blobs/sha256/[a-f0-9]{2}/[a-f0-9]{64}/data$'
    - '^https://pkg-containers\.githubusercontent\.com/[a-z0-9]+/blobs/sha256:[a-f0-9]{64}$'
  extraCDNDomains: ['^cdn[0-9]*\.quay\.test$']
  selfServingRegistries: [harbor.test]
exporter:
  registries: []
probe:
  credentialsSecret: registries-pull-secret
  targets:
    - {name: dockerhub-private, image: "registry-1.docker.io/org/private:latest", layer: -1, private: true, interval: 1m}
    - {name: ghcr-private, image: "ghcr.io/org/private:latest", layer: -1, private: true, interval: 1m}
    - {name: harbor-private, image: "harbor.test/org/private:latest", layer: -1, private: true, interval: 1m}
    - {name: gar-private, image: "us-docker.pkg.dev/org/private:latest", layer: -1, private: true, interval: 1m}
    - {name: ecr-private, image: "$ECR_HOST/org/private:latest", layer: -1, private: true, interval: 1m}
EOF
  if ! hn install $rel $CHART "${VALUES[@]}" -f "$WORK/hb.yaml" --wait --timeout 5m >"$WORK/hb.log" 2>&1; then
    fail "helm install caching Docker Hub, GHCR and a self-serving registry"; cat "$WORK/hb.log" >&2
  else
    helm_test pass "" $rel
    out=$(kn exec $full-0 -c exporter -- squid-cache-exporter probe --exporter-url=http://127.0.0.1:9301 2>&1 || true)
    n=$(grep -c ': PASS [a-z]*-private$' <<<"$out" || true)
    if [[ $n == 5 && $(grep -c 'second pull TCP_MEM_HIT' <<<"$out") == 5 && $(grep -c 'leak_check' <<<"$out") == 5 ]]; then
      ok "Docker Hub, GHCR, Artifact Registry, ECR and harbor.test (serving its own blobs) private images: 5 PASS, second pulls memory hits, leak checks clean ($((SECONDS - t))s)"
      grep 'replica\|squid:' <<<"$out" | sed 's/^/     /' >&2
    else
      fail "Docker Hub, GHCR, Artifact Registry, ECR and harbor.test: the probe says"; echo "$out" >&2
      kn logs $full-0 -c squid --tail 20 >&2 || true
    fi
    skopeo_users $full
  fi
  hn uninstall $rel --wait --timeout 3m >/dev/null 2>&1 || true
  kn delete configmap $full-ca >/dev/null 2>&1 || true
  kn delete secret $full-ca $full-cachemgr >/dev/null 2>&1 || true
}
# skopeo_pod NAME CREDS SEQUENTIAL IMAGE...: a pod of skopeo copies of each
# image through the release's proxy, trusting its CA, with --src-creds
# CREDS ("" for none); one after the other (init containers) or at once.
skopeo_pod() {
  local name=$1 creds=$2 seq=$3 full=$4; shift 4
  local i=0 img containers="" kind=containers
  [[ $seq == seq ]] && kind=initContainers
  for img in "$@"; do
    i=$((i + 1))
    containers+="
    - name: pull-$i
      image: localhost/squid-cache-exporter/skopeo:$tag
      imagePullPolicy: IfNotPresent
      args: [copy, --src-cert-dir=/ca${creds:+, --src-creds=$creds}, \"docker://$img\", \"dir:/tmp/pull-$i\"]
      env: [{name: HTTPS_PROXY, value: \"http://$full:3128\"}, {name: NO_PROXY, value: localhost}]
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: ca, mountPath: /ca}, {name: tmp, mountPath: /tmp}]"
  done
  kn delete pod "$name" --ignore-not-found --wait=true >/dev/null 2>&1
  kn apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {app: proxycheck}}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}
  $kind:$containers
$([[ $seq == seq ]] && printf '  containers:\n    - {name: done, image: "localhost/squid-cache-exporter/skopeo:%s", imagePullPolicy: IfNotPresent, args: [--version], securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}}' "$tag")
  volumes: [{name: ca, configMap: {name: $full-ca}}, {name: tmp, emptyDir: {}}]
EOF
}


skopeo_users() {
  local full=$1 t=$SECONDS r images=() private=() ip codes refused exits log
  for r in "${REGISTRIES[@]}"; do images+=("$r/org/public:latest" "$r/org/private:latest"); private+=("$r/org/private:latest"); done
  for u in alice bob; do
    skopeo_pod skopeo-$u "$u:$u-pw" seq $full "${images[@]}"
    if [[ $(pod_end skopeo-$u) != Succeeded ]]; then
      fail "skopeo as $u: $(kn get pod skopeo-$u -o jsonpath='{.status.initContainerStatuses[*].state}')"
      kn logs skopeo-$u --all-containers --tail 5 >&2 || true
      return
    fi
  done
  skopeo_pod skopeo-anonymous "" par $full "${private[@]}"
  skopeo_pod skopeo-mallory "mallory:mallory-pw" par $full "${private[@]}"
  refused=0
  for p in skopeo-anonymous skopeo-mallory; do
    pod_end $p >/dev/null
    exits=$(kn get pod $p -o jsonpath='{range .status.containerStatuses[*]}{.state.terminated.exitCode}{" "}{end}')
    for e in $exits; do [[ $e != 0 ]] && refused=$((refused + 1)); done
  done
  kn logs $full-0 -c exporter >"$WORK/hb-access.log"
  # Blob deliveries (200 GETs) of a pod: registry blob paths, CDN digest paths,
  # Artifact Registry's downloads, ECR's layer bucket.
  deliveries() {
    ip=$(kn get pod "$1" -o jsonpath='{.status.podIP}')
    awk -v ip="$ip" '$3 == ip && $6 == "GET" && $4 ~ /\/200$/ && ($7 ~ /\/sha256[:\/]/ || $7 ~ /artifacts-downloads|starport-layer-bucket/) {print $4, $7}' "$WORK/hb-access.log"
  }
  codes=$(deliveries skopeo-bob | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  log=$( (deliveries skopeo-anonymous; deliveries skopeo-mallory) | wc -l)
  if [[ -n $(deliveries skopeo-alice) && -n $codes ]] && ! deliveries skopeo-bob | grep -vqE '^TCP_(MEM_)?HIT/200 ' &&
    [[ $refused == $((2 * ${#private[@]})) && $log == 0 ]]; then
    ok "skopeo through the proxy from ${#REGISTRIES[@]} registries: alice pulled each public and private image, bob's blob deliveries then:${codes%,}; anonymous and mallory refused on $refused of $((2 * ${#private[@]})) private pulls, 0 blob bytes delivered to them ($((SECONDS - t))s)"
  else
    fail "skopeo users: bob's deliveries ${codes%,}; refused $refused of $((2 * ${#private[@]})); deliveries to the refused: $log"
    deliveries skopeo-alice | sed 's/^/     alice: /' >&2; deliveries skopeo-bob | sed 's/^/     bob: /' >&2
  fi
  kn delete pod skopeo-alice skopeo-bob skopeo-anonymous skopeo-mallory --wait=false >/dev/null 2>&1 || true
}
registries

# --- the fleet (fleet.enabled, docs/fleet.md): 1, 2 and 3 owner replicas
# behind two frontends. skopeo pulls the same 31 blobs (a 30-layer public
# image and its config) twice through the proxy Service, its parallel copies
# spread over the frontends. From every Squid's access log: how many times
# each blob came from the CDN (the owners' misses and any frontend's own
# fetch), whatever N (goal: once), and the second pull's hits. With 3, an
# owner is deleted while three pulls of another 30-layer image run: no pull
# fails, and each of those blobs still comes from the CDN once or, when its
# owner went mid-way, twice (counted).
# cdn_blobs LOGS...: for each CDN blob delivery (a 200 GET) in owners'
# (squid_probe) or frontends' (squid) logs, "digest FETCH" when that Squid
# fetched it from the CDN itself (HIER_DIRECT), else "digest CODE" (a hit, or
# a frontend's answer from an owner).
cdn_blobs() { awk '$6 == "GET" && $4 ~ /\/200$/ && $7 ~ /cdn01\.quay\.test\/.*\/sha256\// {
    d = $7; sub(/\?.*/, "", d); sub(/.*\//, "", d); split($4, c, "/"); h = $9; sub(/\/.*/, "", h)
    print d, (h == "HIER_DIRECT" ? "FETCH" : c[1]) }' "$@"; }
fleet_logs() { # FULL N OUT: the owners' logs, then the frontends'
  local i
  : >"$3.owners"
  for i in $(seq 0 $(($2 - 1))); do kn logs "$1-$i" -c exporter >>"$3.owners" 2>/dev/null || true; done
  kn logs -l app.kubernetes.io/instance="${1%-squid-cache}",app.kubernetes.io/component=frontend --tail=-1 --prefix=false >"$3.frontends" 2>/dev/null || true
}
FLEET_TABLE=""
fleet_run() { # N
  local n=$1 rel=fl$1 full=fl$1-squid-cache t=$SECONDS img=quay.test/org/fleet:latest fetches blobs max hits spread
  cat >"$WORK/fl.yaml" <<EOF
replicaCount: $n
fleet: {enabled: true, frontends: 2}
probe: {enabled: false}
EOF
  if ! hn install $rel $CHART "${VALUES[@]}" -f "$WORK/fl.yaml" --wait --timeout 5m >"$WORK/fl.log" 2>&1; then
    fail "fleet of $n: helm install"; sed 's/^/     > /' "$WORK/fl.log" | tail -20 >&2
    hn uninstall $rel --wait >/dev/null 2>&1; return
  fi
  for pass in 1 2; do
    skopeo_pod fleet-$n-$pass "" seq $full "$img"
    [[ $(pod_end fleet-$n-$pass) == Succeeded ]] || fail "fleet of $n: pull $pass failed"
    fleet_logs $full "$n" "$WORK/fl$n-$pass"
  done
  # Per blob: every CDN fetch (an owner's miss or a frontend's direct fetch).
  cat "$WORK/fl$n-2.owners" "$WORK/fl$n-2.frontends" | cdn_blobs >"$WORK/fl$n.deliveries"
  blobs=$(awk '{print $1}' "$WORK/fl$n.deliveries" | sort -u | wc -l)
  fetches=$(awk '$2 == "FETCH"' "$WORK/fl$n.deliveries" | wc -l)
  max=$(awk '$2 == "FETCH" {print $1}' "$WORK/fl$n.deliveries" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
  hits=$(cdn_blobs "$WORK/fl$n-2.owners" | awk 'seen[$1]++ == 1 && $2 ~ /HIT/' | wc -l)
  spread=$(for i in $(seq 0 $((n - 1))); do kn logs "$full-$i" -c exporter 2>/dev/null | cdn_blobs | awk '$2 == "FETCH"' | wc -l; done | tr '\n' '/')
  FLEET_TABLE+=$(printf '| %d | %d | %d | %s | %d of %d | %s |' "$n" "$blobs" "$fetches" "$(awk -v f="$fetches" -v b="$blobs" 'BEGIN {printf "%.2f", b ? f / b : 0}')" "$hits" "$blobs" "${spread%/}")$'\n'
  if [[ $blobs == 31 && $fetches == 31 && $max == 1 && $hits == 31 ]]; then
    ok "fleet of $n owners, 2 frontends: 31 blobs pulled twice, fetched from the CDN $fetches times (per owner ${spread%/}), the second pull's $hits of 31 hits ($((SECONDS - t))s)"
  else
    fail "fleet of $n: $blobs blobs, $fetches CDN fetches (most for one blob: $max), second pull's hits $hits, per owner ${spread%/}"
  fi
  [[ $n == 2 ]] && fleet_grow $rel $full
  [[ $n == 3 ]] && fleet_kill $full
  kn delete pod -l app=proxycheck --wait=false >/dev/null 2>&1 || true
  hn uninstall $rel --wait --timeout 3m >/dev/null 2>&1 || true
  kn delete configmap $full-ca >/dev/null 2>&1 || true
  kn delete secret $full-ca $full-cachemgr >/dev/null 2>&1 || true
}
fleet_grow() { # REL FULL: a third owner added to two that hold the image; a third pull
  local rel=$1 full=$2 before after
  before=$(cat "$WORK/fl2-2.owners" "$WORK/fl2-2.frontends" | cdn_blobs | awk '$2 == "FETCH"' | wc -l)
  if ! hn upgrade $rel $CHART --reuse-values --set replicaCount=3 --wait --timeout 5m >"$WORK/flgrow.log" 2>&1; then
    fail "fleet: helm upgrade to 3 owners"; tail -5 "$WORK/flgrow.log" >&2; return
  fi
  kn rollout status deployment/$full-frontend --timeout=2m >/dev/null 2>&1 || true
  skopeo_pod fleet-grow "" seq $full quay.test/org/fleet:latest
  [[ $(pod_end fleet-grow) == Succeeded ]] || fail "fleet: the pull after growing failed"
  fleet_logs $full 3 "$WORK/flgrow"
  after=$(cat "$WORK/flgrow.owners" "$WORK/flgrow.frontends" | cdn_blobs | awk '$2 == "FETCH"' | wc -l)
  FLEET_GROW="a third owner added to two: the next pull of the 31 blobs fetched $((after - before)) from the CDN (the new owner's share; CARP moves about a third)"
  if ((after - before <= 20)); then ok "fleet: $FLEET_GROW"; else fail "fleet: $FLEET_GROW"; fi
}
fleet_kill() { # FULL: three pulls at once, an owner deleted two seconds in
  local full=$1 failed=0 e fetches max
  skopeo_pod fleet-kill "" par $full quay.test/org/fleet2:latest quay.test/org/fleet2:latest quay.test/org/fleet2:latest
  sleep 2
  kn delete pod "$full-1" --wait=false >/dev/null
  pod_end fleet-kill >/dev/null
  for e in $(kn get pod fleet-kill -o jsonpath='{range .status.containerStatuses[*]}{.state.terminated.exitCode}{" "}{end}'); do
    [[ $e != 0 ]] && failed=$((failed + 1))
  done
  kn wait --for=condition=Ready pod/"$full-1" --timeout=2m >/dev/null 2>&1 || true
  fleet_logs $full 3 "$WORK/flkill"
  cat "$WORK/flkill.owners" "$WORK/flkill.frontends" | cdn_blobs >"$WORK/flkill.deliveries"
  # Only org/fleet2's blobs: those the first two pulls did not have.
  awk 'NR == FNR {old[$1] = 1; next} !old[$1]' "$WORK/fl3.deliveries" "$WORK/flkill.deliveries" >"$WORK/flkill.new"
  fetches=$(awk '$2 == "FETCH"' "$WORK/flkill.new" | wc -l)
  max=$(awk '$2 == "FETCH" {print $1}' "$WORK/flkill.new" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
  FLEET_KILL="3 pulls of 31 blobs while an owner was deleted: $failed failed; $fetches CDN fetches (most for one blob: ${max:-0})"
  if [[ $failed == 0 ]]; then ok "fleet: $FLEET_KILL"; else fail "fleet: $FLEET_KILL"; fi
}
for n in 1 2 3; do fleet_run $n; done
log "fleet table (owners | blobs | CDN fetches | per blob | second pull's hits | fetches per owner):"
printf '%s' "$FLEET_TABLE" | sed 's/^/     /' >&2
[[ -n ${FLEET_KILL:-} ]] && log "fleet, an owner deleted mid-pull: $FLEET_KILL"
[[ -n ${FLEET_GROW:-} ]] && log "fleet, grown: $FLEET_GROW"

# --- uninstall leaves nothing behind but what the Job made and keeps (the
# CA, its ConfigMap, the cache manager password); a second install takes
# them as they are.
# --wait waits for the objects helm deleted; their pods go after them.
kept="configmap/$FULL-ca secret/$FULL-ca secret/$FULL-cachemgr"
hn uninstall "$REL" --wait --timeout 3m >/dev/null
t=$SECONDS
for _ in $(seq 60); do
  left=$(k get all,configmaps,secrets,serviceaccounts,roles,rolebindings,jobs,poddisruptionbudgets,networkpolicies,persistentvolumeclaims,servicemonitors,prometheusrules \
    -A -l app.kubernetes.io/instance=$REL -o name 2>&1 | sort | tr '\n' ' ')
  left+=$(kn get pods -l 'app notin (quayemu,proxycheck)' -o name)
  [[ $left == "$kept " ]] && break
  sleep 2
done
[[ $left == "$kept " ]] && ok "helm uninstall left only the kept $kept (pods gone after $((SECONDS - t))s)" || fail "after uninstall: [$left], want [$kept ]"
t=$SECONDS
if hn install "$REL" $CHART "${VALUES[@]}" --wait --timeout 5m >"$WORK/install2.log" 2>&1; then
  [[ $(ca_sum) == "$ca0" && $(secret_sum) == "$secret0" ]] && ok "a second install ($((SECONDS - t))s) signs with the first install's CA, and its ConfigMap holds it" || fail "the second install has another CA"
else
  fail "the second install"; cat "$WORK/install2.log" >&2
fi
hn uninstall "$REL" --wait --timeout 3m >/dev/null
k -n "$NS" delete configmap "$FULL-ca" >/dev/null 2>&1 || true
k -n "$NS" delete secret "$FULL-ca" "$FULL-cachemgr" >/dev/null 2>&1 || true

# --- an upgrade from the chart before the hook Job, which rendered the CA,
# its ConfigMap and the password itself (so they are in Helm's release
# history, and the CA can sign for any name): the Job refuses to go on with
# that CA until ca.rotation replaces it; then the new CA is constrained, the
# clients' ConfigMap holds it, the password is new, and all are kept.
UPGRADE_FROM=${UPGRADE_FROM:-2e39973}
mkdir -p "$WORK/old"
git archive "$UPGRADE_FROM" charts/squid-cache alerts dashboards conf hack/k8s/values.yaml | tar -x -C "$WORK/old"
sed '/^squid:/,$d' "$WORK/hosts.yaml" >"$WORK/old-hosts.yaml"
up_secret() { kn get secret "up-squid-cache-$1" -o jsonpath="{.data.$2}" 2>/dev/null | base64 -d | sha256sum | cut -c1-16; }
t=$SECONDS
if h install up "$WORK/old/charts/squid-cache" -n "$NS" -f "$WORK/old/hack/k8s/values.yaml" -f "$WORK/old-hosts.yaml" \
  --set probe.test.enabled=false --wait --timeout 5m >"$WORK/old.log" 2>&1; then
  old_ca=$(up_secret ca 'tls\.crt') old_password=$(up_secret cachemgr password)
  if hn upgrade up $CHART "${VALUES[@]}" --wait --timeout 5m >"$WORK/up.log" 2>&1; then
    fail "an upgrade from $UPGRADE_FROM went on with its unconstrained CA"
  elif kn logs job/up-squid-cache-secrets 2>/dev/null | grep -q 'set ca.rotation' && [[ $(up_secret ca 'tls\.crt') == "$old_ca" ]]; then
    ok "an upgrade from $UPGRADE_FROM is refused until ca.rotation replaces its CA (the Job's log says so; nothing changed)"
  else
    fail "upgrade from $UPGRADE_FROM: refused without naming ca.rotation"; cat "$WORK/up.log" >&2
  fi
  if hn upgrade up $CHART "${VALUES[@]}" --set ca.rotation=1 --wait --timeout 5m >"$WORK/up.log" 2>&1; then
    kn get secret up-squid-cache-ca -o jsonpath='{.data.tls\.crt}' | base64 -d >"$WORK/up-ca.pem"
    kn get configmap up-squid-cache-ca -o jsonpath='{.data.ca\.crt}' >"$WORK/up-cm.pem"
    der() { openssl x509 -in "$1" -outform der 2>/dev/null | sha256sum; }
    if [[ $(up_secret ca 'tls\.crt') != "$old_ca" && $(up_secret cachemgr password) != "$old_password" ]] &&
      openssl x509 -in "$WORK/up-ca.pem" -noout -text | grep -q 'pathlen:0' &&
      [[ -s $WORK/up-cm.pem && $(der "$WORK/up-cm.pem") == "$(der "$WORK/up-ca.pem")" ]]; then
      ok "with ca.rotation ($((SECONDS - t))s): a constrained CA, in the clients' ConfigMap, and a new cache manager password"
    else
      fail "upgrade from $UPGRADE_FROM with ca.rotation: CA or password not replaced"
    fi
    helm_test pass "" up
  else
    fail "helm upgrade from $UPGRADE_FROM with ca.rotation"; cat "$WORK/up.log" >&2
  fi
else
  fail "helm install of $UPGRADE_FROM's chart"; cat "$WORK/old.log" >&2
fi
hn uninstall up --wait --timeout 3m >/dev/null 2>&1 || true
k -n "$NS" delete configmap up-squid-cache-ca >/dev/null 2>&1 || true
k -n "$NS" delete secret up-squid-cache-ca up-squid-cache-cachemgr >/dev/null 2>&1 || true

log "wall time: $(($(date +%s) - T0))s; failures: $fails"
((fails == 0))
