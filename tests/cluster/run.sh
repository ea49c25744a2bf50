#!/bin/bash
# make cluster-e2e: a real single-node Kubernetes and Tekton's real controller, offline, in a
# private network namespace; every scenario runs twice, with stepkit's helper images and with
# upstream's (rebuilt from the same Tekton module), and the two TaskRun statuses are compared.
#
# Phases: install (Debian packages) -> build-or-reuse (Go binaries and node images, cached under
# ~/.cache/stepkit-cluster/<versions>/; stepkit's images from target/images) -> up -> scenarios
# with stepkit's images -> scenarios with upstream's -> down -> up again with Tekton v0.37.2 ->
# the seed tutorial with stepkit's images -> with upstream's -> down -> compare
# (docs/cluster-e2e.md).
# The last line printed is `cluster-e2e: N passed, M failed`. A failure anywhere still tears the
# cluster down (trap). Needs root (network namespace, containerd, kubelet).
#
#   tests/cluster/run.sh            everything, as above
#   tests/cluster/run.sh --keep     leave the cluster running after the scenarios (to debug:
#                                   `nsenter --net=/run/netns/stepkit-e2e kubectl --kubeconfig
#                                   /var/tmp/stepkit-cluster-e2e/state/admin.kubeconfig ...`)
#   tests/cluster/run.sh --down     only tear down what a --keep run left
#
# Environment: K8S_VERSION (v1.34.4), TEKTON_VERSION (v1.15.0), CRANE_VERSION (v0.22.1), STEPKIT_CLUSTER_CACHE
# (~/.cache/stepkit-cluster), STEPKIT_CLUSTER_RUN (/var/tmp/stepkit-cluster-e2e: runtime state),
# RELEASE (target/x86_64-unknown-linux-gnu/release).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/tests/cluster
export K8S_VERSION=${K8S_VERSION:-v1.34.4} TEKTON_VERSION=${TEKTON_VERSION:-v1.15.0}
# go-containerregistry's crane: the seed-push scenario's push tool (its binary is cached per version).
export CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
# The seed tutorial's Tekton (PipelineResources), for the seed-v037 run.
export TEKTON037_VERSION=${TEKTON037_VERSION:-v0.37.2}
# v1.34: newer kubelets refuse cgroup v1 and containerd 1.x (Debian bookworm's). v1.15.0: the
# proxy serves no zip for v1.16.0.
export CACHE=${STEPKIT_CLUSTER_CACHE:-$HOME/.cache/stepkit-cluster}/k8s-${K8S_VERSION}_tekton-${TEKTON_VERSION}_$(go env GOVERSION)
RUN=${STEPKIT_CLUSTER_RUN:-/var/tmp/stepkit-cluster-e2e}
STATE=$RUN/state
NETNS=stepkit-e2e
# Debian's python3 (install.sh gives it PyYAML), not whatever python3 is first on PATH.
PY=/usr/bin/python3
RELEASE=${RELEASE:-$REPO/target/x86_64-unknown-linux-gnu/release}
DOC=$REPO/docs/cluster-e2e.md
STEPKIT_VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)

T0=$(date +%s.%N)
stamp() { printf '[cluster-e2e %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
# phase NAME CMD...: runs CMD, records its wall time in $RUN/phases.tsv. Never call it in a
# condition (`phase ... || ...`): bash would then ignore `set -e` inside CMD's functions.
phase() {
  local name=$1 t; shift
  t=$(date +%s.%N)
  "$@"
  printf '%s\t%.1f\n' "$name" "$(echo "$(date +%s.%N) - $t" | bc)" >> "$RUN/phases.tsv"
}

keep=false down_only=false
case ${1:-} in
  --keep) keep=true ;;
  --down) down_only=true ;;
  "") ;;
  *) echo "usage: $0 [--keep|--down]" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "cluster-e2e: needs root (network namespace, containerd, kubelet)" >&2; exit 1; }
mkdir -p "$RUN" "$CACHE"
: > "$RUN/phases.tsv"

# shellcheck source=tests/cluster/cluster.sh
. "$HERE/cluster.sh"

# A previous run killed hard (or --keep) may have left its cluster: tear that down first.
cluster_down > /dev/null 2>&1 || true
$down_only && exit 0

stepkit_images() {
  local name stale=0
  for name in entrypoint workingdirinit nop git-init imagedigestexporter; do
    local bin=$RELEASE/$name
    [ $name = workingdirinit ] && bin=$RELEASE/workingdir-init
    [ -x "$bin" ] || { echo "cluster-e2e: no $bin (run 'make build')" >&2; return 1; }
    [ "$REPO/target/images/$name.oci.tar" -nt "$bin" ] || stale=1
  done
  if [ $stale = 1 ]; then
    "$REPO/scripts/images.sh" "$RELEASE" > "$RUN/images.log" 2>&1 || { cat "$RUN/images.log" >&2; return 1; }
    stamp "stepkit images built from $RELEASE"
  else
    stamp "stepkit images up to date in target/images"
  fi
}

# scenarios SET ENTRYPOINT WORKINGDIRINIT NOP: (re)start the controller with that image set, run
# every scenario with it. A failing scenario does not stop the run; the compare phase counts it.
scenarios() {
  local set=$1; shift
  controller_stop
  controller_start "$@"
  "${NS[@]}" "$PY" "$HERE/e2e.py" run "$set" "$STATE" || true
}

# seed037 SET ENTRYPOINT WORKINGDIRINIT NOP GIT IMAGEDIGESTEXPORTER: the same for the seed's
# v0.37.2 flow (each set in a namespace of its own).
seed037() {
  local set=$1; shift
  controller_stop
  controller037_start "$@"
  "${NS[@]}" "$PY" "$HERE/seed037.py" run "$set" "$STATE" || true
}

phase install "$HERE/install.sh"
stamp "install done"
build_go() {
  "$HERE/build-go.sh" > "$RUN/build-go.log" 2>&1 || { tail -30 "$RUN/build-go.log" >&2; return 1; }
}
phase build-go build_go
stamp "Go binaries ready in $CACHE/bin"
phase node-images "$HERE/node-images.sh"
phase stepkit-images stepkit_images

trap 'cluster_down || true' EXIT
trap 'exit 130' INT TERM
# Each cluster imports only the node images its scenarios use.
COMMON_IMAGES=(pause busybox busybox-nonroot)
phase up cluster_up "$TEKTON_VERSION" "${COMMON_IMAGES[@]}" upstream-entrypoint upstream-workingdirinit upstream-nop \
  golang crane
phase scenarios-stepkit scenarios stepkit "localhost/stepkit/entrypoint:$STEPKIT_VERSION" \
  "localhost/stepkit/workingdirinit:$STEPKIT_VERSION" "localhost/stepkit/nop:$STEPKIT_VERSION"
phase scenarios-upstream scenarios upstream "localhost/tekton-upstream/entrypoint:$TEKTON_VERSION" \
  "localhost/tekton-upstream/workingdirinit:$TEKTON_VERSION" "localhost/tekton-upstream/nop:$TEKTON_VERSION"
# The seed tutorial's own version, on a fresh cluster (v0.37.2's CRDs are not v1.15.0's).
# The v1.15 run's results are kept for the comparison.
phase down cluster_down
saved=$(mktemp -d "$RUN/results.XXXXXX")
cp -r "$STATE"/results-*.json "$STATE/pod-logs" "$saved/" 2> /dev/null || true
phase up-v037 cluster_up "$TEKTON037_VERSION" "${COMMON_IMAGES[@]}" golang-1.14-alpine docker-stable \
  v037-{entrypoint,workingdirinit,nop,imagedigestexporter,pullrequest-init,kubeconfigwriter,git-init}
cp -r "$saved"/* "$STATE/" 2> /dev/null || true
rm -rf "$saved"
V037=localhost/tekton-v037
phase seed037-stepkit seed037 stepkit "localhost/stepkit/entrypoint:$STEPKIT_VERSION" \
  "localhost/stepkit/workingdirinit:$STEPKIT_VERSION" "localhost/stepkit/nop:$STEPKIT_VERSION" \
  "localhost/stepkit/git-init:$STEPKIT_VERSION" "localhost/stepkit/imagedigestexporter:$STEPKIT_VERSION"
phase seed037-upstream seed037 upstream "$V037/entrypoint:$TEKTON037_VERSION" "$V037/workingdirinit:$TEKTON037_VERSION" \
  "$V037/nop:$TEKTON037_VERSION" "$V037/git-init:$TEKTON037_VERSION" "$V037/imagedigestexporter:$TEKTON037_VERSION"
if $keep; then
  trap - EXIT
  stamp "cluster left running (--keep); tear it down with: $0 --down"
else
  phase down-v037 cluster_down
  trap - EXIT
fi
"$PY" "$HERE/e2e.py" compare "$STATE" "$DOC" "$RUN/phases.tsv"
