#!/bin/bash
# make conformance: Tekton v1.15.0's own end-to-end suite (test/ with build tag e2e, and
# examples/v1 through examples_test.go), compiled from the Go module cache, against the cluster of
# make cluster-e2e (tests/cluster/cluster.sh) — once with stepkit's helper images, once with
# upstream's — and docs/conformance.md from the verdicts (docs/conformance.md says how).
#
#   tests/cluster/conformance/run.sh                 both image sets, then docs/conformance.md
#   tests/cluster/conformance/run.sh --sets stepkit  one set (the other's last verdicts are kept
#                                                    in $RUN/results and reused by the report)
#   tests/cluster/conformance/run.sh --ci            the CI subset (tests.tsv), stepkit only;
#                                                    fails unless every one of them passes
#   --only REGEX  only the tests whose id matches; --keep  leave the cluster up; --down  tear down
#   CONFORMANCE_WEBHOOK=0  without Tekton's webhook (no defaulting, validation, conversion)
# Needs root. When others share the machine, hold the cluster lock with `flock -o` (-o: the
# cluster's daemons must not inherit the lock, or a --keep cluster holds it until --down).
# Environment as tests/cluster/run.sh; STEPKIT_CONFORMANCE_RUN (/var/tmp/stepkit-conformance).
set -euo pipefail
# One compound command, read whole before it runs: editing this file mid-run cannot shift what
# bash executes next (bash otherwise reads a script as it goes).
{
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$REPO/tests/cluster
CONF=$HERE/conformance
export K8S_VERSION=${K8S_VERSION:-v1.34.4} TEKTON_VERSION=${TEKTON_VERSION:-v1.15.0}
export CRANE_VERSION=${CRANE_VERSION:-v0.22.1} TEKTON037_VERSION=${TEKTON037_VERSION:-v0.37.2}
export CACHE=${STEPKIT_CLUSTER_CACHE:-$HOME/.cache/stepkit-cluster}/k8s-${K8S_VERSION}_tekton-${TEKTON_VERSION}_$(go env GOVERSION)
RUN=${STEPKIT_CONFORMANCE_RUN:-/var/tmp/stepkit-conformance}
STATE=$RUN/state
NETNS=stepkit-conf
PY=/usr/bin/python3
RELEASE=${RELEASE:-$REPO/target/x86_64-unknown-linux-gnu/release}
STEPKIT_VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)
SUITE=$CACHE/conformance

T0=$(date +%s.%N)
stamp() { printf '[conformance %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
phase() {
  local name=$1 t; shift
  t=$(date +%s.%N)
  "$@"
  printf '%s\t%.1f\n' "$name" "$(echo "$(date +%s.%N) - $t" | bc)" >> "$RUN/phases.tsv"
}

sets=(stepkit upstream) ci=false keep=false down_only=false only=
while [ $# -gt 0 ]; do
  case $1 in
    --sets) IFS=, read -r -a sets <<< "$2"; shift ;;
    --ci) ci=true; sets=(stepkit) ;;
    --only) only=$2; shift ;;
    --keep) keep=true ;;
    --down) down_only=true ;;
    *) echo "usage: $0 [--sets stepkit,upstream] [--ci] [--only REGEX] [--keep|--down]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "conformance: needs root (network namespace, containerd, kubelet)" >&2; exit 1; }
mkdir -p "$RUN/results" "$CACHE"
: > "$RUN/phases.tsv"

# shellcheck source=tests/cluster/cluster.sh
. "$HERE/cluster.sh"
KCM_PID=$STATE/pids/kube-controller-manager

conformance_down() {
  # the hostPath volumes kube-controller-manager provisioned (under /tmp/hostpath_pv), by name
  if [ -f "$STATE/pids/apiserver" ]; then
    "${KC[@]}" get pv -o jsonpath='{range .items[*]}{.spec.hostPath.path}{"\n"}{end}' 2> /dev/null |
      grep '^/tmp/hostpath_pv/' | xargs -r rm -rf || true
  fi
  local d
  for d in tekton-webhook kube-controller-manager conf-registry conf-registry-tls; do stop $d 2> /dev/null || true; done
  cluster_down
}
conformance_down > /dev/null 2>&1 || true
$down_only && exit 0

stepkit_images() {
  local name
  for name in entrypoint workingdirinit nop git-init imagedigestexporter; do
    local bin=$RELEASE/$name
    [ $name = workingdirinit ] && bin=$RELEASE/workingdir-init
    [ -x "$bin" ] || { echo "conformance: no $bin (run 'make build')" >&2; return 1; }
    [ "$REPO/target/images/$name.oci.tar" -nt "$bin" ] && continue
    "$REPO/scripts/images.sh" "$RELEASE" > "$RUN/images.log" 2>&1 || { cat "$RUN/images.log" >&2; return 1; }
    stamp "stepkit images built from $RELEASE"
    return 0
  done
  stamp "stepkit images up to date in target/images"
}

phase install "$HERE/install.sh"
build_go() {
  "$HERE/build-go.sh" > "$RUN/build-go.log" 2>&1 || { tail -30 "$RUN/build-go.log" >&2; return 1; }
  local tags="e2e conformance examples"
  $ci && tags=e2e  # the CI subset is e2e tests only
  CONFORMANCE_TAGS=$tags "$CONF/build.sh" > "$RUN/build-conformance.log" 2>&1 || { tail -30 "$RUN/build-conformance.log" >&2; return 1; }
}
phase build-go build_go
stamp "Go binaries and upstream's suite ready in $SUITE"
phase node-images "$HERE/node-images.sh"
phase standin-images "$CONF/images.sh"
phase stepkit-images stepkit_images

# The stand-in registry: containerd pulls every tag reference of images.tsv through these mirrors
# (plain http on 127.0.0.1:5000, inside the namespace), instead of the real registries.
MIRRORED=(mirror.gcr.io docker.io gcr.io ghcr.io cgr.dev)
CONTAINERD_CONFIG_EXTRA=$(for r in "${MIRRORED[@]}"; do
  printf '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n  endpoint = ["http://127.0.0.1:5000"]\n' "$r"
done)
export CONTAINERD_CONFIG_EXTRA

# conformance_up: kube-controller-manager (the tests wait for each new namespace's default
# ServiceAccount; PipelineRuns with PVC workspaces need the affinity assistant's StatefulSet and a
# provisioner), the stand-in registry, the stand-in images.
conformance_up() {
  mkdir -p "$STATE/pki/kcm"
  start kube-controller-manager "$SUITE/bin/kube-controller-manager" --kubeconfig="$STATE/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --cert-dir="$STATE/pki/kcm" --leader-elect=false \
    --root-ca-file="$STATE/pki/apiserver/apiserver.crt" --service-account-private-key-file="$STATE/pki/sa.key" \
    --use-service-account-credentials=false --controllers='*' --enable-hostpath-provisioner=true
  "${KC[@]}" apply -f - > /dev/null << Y
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
Y
  stamp "kube-controller-manager started (hostPath provisioner as the default StorageClass)"

  # registry: one storage, served twice: http on 127.0.0.1:5000 for containerd's mirrors and the
  # pushes, https on 127.0.0.1:443 for the controller, which looks images up (a step without
  # command) under their real names; its private /etc/hosts maps those names to 127.0.0.1.
  local reg=$STATE/conf-registry names
  mkdir -p "$reg/data"
  names=$(printf 'DNS:%s,' "${MIRRORED[@]}" index.docker.io registry-1.docker.io)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stepkit-conformance-registry \
    -addext "subjectAltName=${names%,}" -keyout "$reg/tls.key" -out "$reg/tls.crt" 2> /dev/null
  cat /etc/ssl/certs/ca-certificates.crt "$reg/tls.crt" > "$reg/ca-bundle.crt"
  printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "${MIRRORED[*]} index.docker.io registry-1.docker.io" > "$reg/hosts"
  printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:5000"}\n' \
    "$reg/data" > "$reg/http.yml"
  printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:443", tls: {certificate: %s, key: %s}}\n' \
    "$reg/data" "$reg/tls.crt" "$reg/tls.key" > "$reg/tls.yml"
  start conf-registry docker-registry serve "$reg/http.yml"
  start conf-registry-tls docker-registry serve "$reg/tls.yml"
  wait_for "stand-in registry" 10 "${NS[@]}" curl -sf http://127.0.0.1:5000/v2/
  wait_for "stand-in registry (TLS)" 10 "${NS[@]}" curl -sf --cacert "$reg/tls.crt" --resolve mirror.gcr.io:443:127.0.0.1 https://mirror.gcr.io/v2/

  # images.tsv, row N -> row-N.oci.tar: a tag reference is pushed to the registry under its
  # path (registry host dropped, library/ for a Docker Hub short name, :latest when untagged); a
  # digest reference is a local name in
  # containerd (name@digest; a tag next to the digest dropped, as Docker's parser does).
  local n=0 ref standin ep cmd ctr=(ctr -a "$SOCK" -n k8s.io)
  "${ctr[@]}" images import "$SUITE/images/sidecarlogresults.oci.tar" > /dev/null
  while IFS=$'\t' read -r ref standin ep cmd; do
    case $ref in '#'* | '') continue ;; esac
    n=$((n + 1))
    "${ctr[@]}" images import "$SUITE/images/row-$n.oci.tar" > /dev/null
    if [[ $ref == *@sha256:* ]]; then
      local name=${ref%@*} digest=${ref#*@}
      [[ ${name##*/} == *:* ]] && name=${name%:*}
      "${ctr[@]}" images tag --force "localhost/conformance/row-$n:1" "$name@$digest" > /dev/null
    else
      local path=$ref
      case ${ref%%/*} in
        *.* | *:*) path=${ref#*/} ;;  # registry host: dropped
        *) [[ $ref == */* ]] || path=library/$ref ;;  # Docker Hub short name: library/NAME
      esac
      [[ ${path##*/} == *:* ]] || path=$path:latest
      "${NS[@]}" "${ctr[@]}" images push --plain-http "127.0.0.1:5000/$path" "localhost/conformance/row-$n:1" > /dev/null
    fi
  done < "$CONF/images.tsv"
  wait_for "default ServiceAccount from kube-controller-manager" 60 "${KC[@]}" get sa default -n tekton-pipelines
  stamp "stand-in registry on 127.0.0.1:5000 (http) and :443 (https), $n stand-in images"
  [ "${CONFORMANCE_WEBHOOK:-1}" = 0 ] || conformance_webhook
}

# conformance_webhook: Tekton's webhook (defaulting, validation, v1beta1<->v1 conversion) as a
# host process in the namespace, on ports of its own (the controller has 8080, 9090, 8008). The
# apiserver calls the Service tekton-pipelines-webhook's ClusterIP; with no kube-proxy, a DNAT rule
# in the namespace sends that to the process. The webhook writes its certificate into
# webhook-certs and the caBundles into the configurations and CRDs it finds.
conformance_webhook() {
  local config=$GOMODCACHE/github.com/tektoncd/pipeline@$TEKTON_VERSION/config ip crd patch
  "$PY" "$CONF/webhook.py" manifests "$config" | "${KC[@]}" apply -f - > /dev/null
  ip=$("${KC[@]}" get service tekton-pipelines-webhook -n tekton-pipelines -o jsonpath='{.spec.clusterIP}')
  "${NS[@]}" iptables -t nat -A OUTPUT -d "$ip" -p tcp --dport 443 -j DNAT --to-destination $NODE_IP:8443
  (
    export SYSTEM_NAMESPACE=tekton-pipelines KUBERNETES_MIN_VERSION=v1.28.0 \
      CONFIG_LOGGING_NAME=config-logging CONFIG_OBSERVABILITY_NAME=config-observability-webhook \
      CONFIG_LEADERELECTION_NAME=config-leader-election-webhook CONFIG_FEATURE_FLAGS_NAME=feature-flags \
      PROBES_PORT=8081 WEBHOOK_PORT=8443 PROFILING_PORT=8009 \
      WEBHOOK_ADMISSION_CONTROLLER_NAME=webhook.pipeline.tekton.dev \
      WEBHOOK_SERVICE_NAME=tekton-pipelines-webhook WEBHOOK_SECRET_NAME=webhook-certs \
      METRICS_DOMAIN=tekton.dev/pipeline
    exec "${NS[@]}" "$SUITE/bin/webhook" -kubeconfig="$STATE/admin.kubeconfig" -disable-ha
  ) > "$STATE/logs/tekton-webhook.log" 2>&1 &
  echo $! > "$STATE/pids/tekton-webhook"
  while IFS=$'\t' read -r crd patch; do
    "${KC[@]}" patch crd "$crd" --type merge -p "$patch" > /dev/null
  done < <("$PY" "$CONF/webhook.py" conversions "$config")
  wait_for "Tekton webhook" 60 "${NS[@]}" curl -sk -o /dev/null https://$NODE_IP:8443/
  wait_for "Tekton webhook's caBundles" 60 sh -c "${KC[*]} get mutatingwebhookconfiguration webhook.pipeline.tekton.dev -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q . &&
    ${KC[*]} get crd taskruns.tekton.dev -o jsonpath='{.spec.conversion.webhook.clientConfig.caBundle}' | grep -q ."
  stamp "Tekton webhook ready (Service $ip:443 -> $NODE_IP:8443)"
}

# conformance_controller ENTRYPOINT WORKINGDIRINIT NOP: the controller (release-stamped build,
# build.sh) in a private mount namespace whose /etc/hosts sends the registries to 127.0.0.1.
# Its probes on 8082: the webhook, in the same network namespace, listens on 8080 as well.
conformance_controller() {
  stop tekton-controller
  local reg=$STATE/conf-registry
  (
    export SYSTEM_NAMESPACE=tekton-pipelines KUBERNETES_MIN_VERSION=v1.28.0 \
      CONFIG_DEFAULTS_NAME=config-defaults CONFIG_LOGGING_NAME=config-logging \
      CONFIG_OBSERVABILITY_NAME=config-observability CONFIG_FEATURE_FLAGS_NAME=feature-flags \
      CONFIG_LEADERELECTION_NAME=config-leader-election-controller CONFIG_SPIRE=config-spire \
      METRICS_DOMAIN=tekton.dev/pipeline SSL_CERT_FILE=$reg/ca-bundle.crt PROBES_PORT=8082
    exec "${NS[@]}" unshare -m --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$reg/hosts" \
      "$SUITE/bin/controller" -kubeconfig="$STATE/admin.kubeconfig" -disable-ha \
      -entrypoint-image "$1" -workingdirinit-image "$2" -nop-image "$3" \
      -sidecarlogresults-image "localhost/tekton-upstream/sidecarlogresults:$TEKTON_VERSION" \
      -shell-image localhost/busybox-nonroot:1.35 -shell-image-win localhost/unused-windows-shell:none
  ) >> "$STATE/logs/tekton-controller.log" 2>&1 &
  echo $! > "$STATE/pids/tekton-controller"
  wait_for "Tekton controller" 60 "${NS[@]}" curl -sf http://127.0.0.1:8082/readiness
  stamp "Tekton controller ready (entrypoint image $1)"
}

# suite SET ENTRYPOINT WORKINGDIRINIT NOP: the suite with that image set.
suite() {
  local set=$1; shift
  # (explicit ||: suite runs inside `phase ... || status=1`, where set -e does not apply)
  conformance_controller "$@" || return 1
  local args=(run "$set" "$SUITE" "$RUN/results" --jobs "${CONFORMANCE_JOBS:-6}")
  $ci && args+=(--ci)
  [ -z "$only" ] || args+=(--only "$only")
  # kubectl on PATH: several tests shell out to it (feature flags, kubectl create)
  # KO_DOCKER_REPO: examples_test.go refuses to run without it (it replaces the placeholder repo
  # of the examples that push images, none of which runs here); upstream's kind jobs use this one.
  PATH=$BIN:$PATH KUBECONFIG=$STATE/admin.kubeconfig SYSTEM_NAMESPACE=tekton-pipelines KO_DOCKER_REPO=registry.local:5000 \
    "${NS[@]}" "$PY" "$CONF/conformance.py" "${args[@]}" | tee -a "$RUN/suite-$set.log"
}

trap 'conformance_down || true' EXIT
trap 'exit 130' INT TERM
phase up cluster_up "$TEKTON_VERSION" pause busybox busybox-nonroot upstream-entrypoint upstream-workingdirinit upstream-nop
phase conformance-up conformance_up
status=0
for set in "${sets[@]}"; do
  case $set in
    stepkit) phase "suite-stepkit" suite stepkit "localhost/stepkit/entrypoint:$STEPKIT_VERSION" \
      "localhost/stepkit/workingdirinit:$STEPKIT_VERSION" "localhost/stepkit/nop:$STEPKIT_VERSION" || status=1 ;;
    upstream) phase "suite-upstream" suite upstream "localhost/tekton-upstream/entrypoint:$TEKTON_VERSION" \
      "localhost/tekton-upstream/workingdirinit:$TEKTON_VERSION" "localhost/tekton-upstream/nop:$TEKTON_VERSION" || status=1 ;;
    *) echo "conformance: unknown image set $set" >&2; exit 2 ;;
  esac
done
if $keep; then
  trap - EXIT
  stamp "cluster left running (--keep): KUBECONFIG=$STATE/admin.kubeconfig, netns $NETNS; tear down with $0 --down"
else
  phase down conformance_down
  trap - EXIT
fi
if $ci; then
  exit $status
fi
cp "$RUN/phases.tsv" "$RUN/results/phases-$(date +%s).tsv"
"$PY" "$CONF/conformance.py" report "$RUN/results" "$REPO/docs/conformance.md" "$SUITE"
exit
}
