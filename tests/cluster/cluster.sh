#!/bin/bash
# The cluster's life cycle, sourced by run.sh: cluster_up, controller_start, controller_stop,
# cluster_down. Every daemon runs inside the network namespace $NETNS (entered with
# `nsenter --net`, not `ip netns exec`, which remounts /sys and hides the cgroup v1 mounts from
# the kubelet and runc), whose firewall lets packets go only to 127.0.0.0/8 and the namespace's
# own TEST-NET-1 addresses (192.0.2.0/24): nothing leaves the machine.
# Needs: CACHE (built binaries, image archives), STATE (fresh runtime dir), NETNS, REPO.
# Servers on the node IP, for the pods: git daemon (:9418), a registry with basic auth (:5000).

NODE_IP=192.0.2.1
NODE=stepkit-node
GOMODCACHE=$(go env GOMODCACHE)
BIN=$CACHE/bin
SOCK=$STATE/containerd/containerd.sock
NS=(nsenter "--net=/run/netns/$NETNS")
KC=("${NS[@]}" "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig")

# start NAME CMD...: runs CMD inside the namespace in the background, PID in $STATE/pids/NAME.
start() {
  local name=$1; shift
  "${NS[@]}" "$@" > "$STATE/logs/$name.log" 2>&1 &
  echo $! > "$STATE/pids/$name"
}

# wait_for WHAT SECONDS CMD...: polls CMD every 0.2 s; fails naming WHAT and its log.
wait_for() {
  local what=$1 limit=$2 i; shift 2
  for ((i = 0; i < limit * 5; i++)); do
    "$@" > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "cluster: $what not ready after ${limit}s (logs in $STATE/logs)" >&2
  return 1
}

# cluster_up TEKTON_VERSION IMAGE...: a fresh cluster with that Tekton's CRDs and ConfigMaps,
# and the node images named (archives in $CACHE/images, without .oci.tar) plus stepkit's.
cluster_up() {
  local tekton=$1; shift
  local images=("$@")
  rm -rf "$STATE"
  mkdir -p "$STATE"/{pids,logs,pki/apiserver,cni/net.d,containerd,etcd,kubelet/root,kubelet/pki,git}
  ip netns add "$NETNS"
  # lo, and a veth pair whose v0 end holds the node IP and the default route (the kubelet
  # refuses a loopback node IP; the apiserver wants a default route). v1 leads nowhere.
  "${NS[@]}" sh -ec "
    ip link set lo up
    ip link add v0 type veth peer name v1
    ip addr add $NODE_IP/32 dev v0
    ip link set v0 up; ip link set v1 up
    ip route add default dev v0
    iptables -A OUTPUT -o lo -j ACCEPT
    iptables -A OUTPUT -d 127.0.0.0/8 -j ACCEPT
    iptables -A OUTPUT -d 192.0.2.0/24 -j ACCEPT
    iptables -A OUTPUT -j REJECT
    iptables -A FORWARD -j DROP"
  stamp "netns $NETNS with firewall"

  openssl genrsa -out "$STATE/pki/sa.key" 2048 2> /dev/null
  openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2> /dev/null
  local token
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$token,admin,admin,\"system:masters\"" > "$STATE/pki/tokens.csv"
  cat > "$STATE/admin.kubeconfig" << K
apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$token"}}]
contexts: [{name: e2e, context: {cluster: e2e, user: admin}}]
current-context: e2e
K

  # containerd: restrict_oom_score_adj because root here lacks CAP_SYS_RESOURCE (runc would fail
  # raising the pause container's oom_score_adj). The CNI bridge is the pods' gateway to the
  # node IP (the git daemon) and their only route beyond their subnet is 192.0.2.0/24: no
  # default route, no masquerading, and the namespace drops forwarded packets anyway.
  cat > "$STATE/containerd/config.toml" << C
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:3.10"
  disable_apparmor = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
C
  # Hook (make conformance): more containerd configuration, e.g. registry mirrors, appended as is.
  [ -z "${CONTAINERD_CONFIG_EXTRA:-}" ] || printf '%s\n' "$CONTAINERD_CONFIG_EXTRA" >> "$STATE/containerd/config.toml"
  cat > "$STATE/cni/net.d/10-e2e.conflist" << C
{"cniVersion": "0.4.0", "name": "e2e", "plugins": [
  {"type": "bridge", "bridge": "cni-e2e0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "192.0.2.128/25"}]],
            "routes": [{"dst": "192.0.2.0/24"}]}},
  {"type": "loopback"}]}
C
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for containerd 30 ctr -a "$SOCK" version
  local f
  for f in "${images[@]/#/$CACHE/images/}" "$REPO"/target/images/{entrypoint,workingdirinit,nop,git-init,imagedigestexporter}; do
    ctr -a "$SOCK" -n k8s.io images import "$f.oci.tar" > /dev/null
  done
  stamp "containerd up, $(ctr -a "$SOCK" -n k8s.io images ls -q | grep -vc '^sha256:') images imported"

  start etcd etcd --name e2e --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster e2e=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
  # InternalIP first: otherwise the apiserver resolves the node's name through the host's
  # resolver to reach the kubelet (logs), i.e. tries to send a DNS packet off the machine.
  start apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --secure-port=6443 --advertise-address=$NODE_IP \
    --cert-dir="$STATE/pki/apiserver" --token-auth-file="$STATE/pki/tokens.csv" \
    --authorization-mode=AlwaysAllow \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$STATE/pki/sa.pub" --service-account-signing-key-file="$STATE/pki/sa.key" \
    --service-cluster-ip-range=198.51.100.0/24 --allow-privileged=true \
    --enable-priority-and-fairness=false --profiling=false \
    --kubelet-preferred-address-types=InternalIP
  wait_for kube-apiserver 120 "${KC[@]}" get --raw /readyz
  stamp "etcd, kube-apiserver ready"

  cat > "$STATE/kubelet/config.yaml" << C
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
failCgroupV1: false
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
rotateCertificates: false
syncFrequency: 10s
C
  start kubelet "$BIN/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$STATE/admin.kubeconfig" \
    --root-dir="$STATE/kubelet/root" --cert-dir="$STATE/kubelet/pki" --node-ip=$NODE_IP --hostname-override=$NODE
  start scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
  wait_for "node $NODE" 120 "${KC[@]}" get node $NODE
  "${KC[@]}" wait --for=condition=Ready node/$NODE --timeout=120s > /dev/null
  # What kube-controller-manager (not run) would do: drop the not-ready taint, create the
  # namespace's default ServiceAccount and the root CA ConfigMap its token volume projects.
  "${KC[@]}" taint node $NODE node.kubernetes.io/not-ready:NoSchedule- > /dev/null 2>&1 || true
  "${KC[@]}" create serviceaccount default -n default > /dev/null
  "${KC[@]}" create configmap kube-root-ca.crt -n default \
    --from-file=ca.crt="$STATE/pki/apiserver/apiserver.crt" > /dev/null
  stamp "kubelet, kube-scheduler: node Ready"

  # Tekton's CRDs and ConfigMaps, read from the module cache; no webhook runs, so each CRD's
  # conversion webhook is dropped (only v1 objects are created, and v1 is the storage version).
  (cd / && go mod download "github.com/tektoncd/pipeline@$tekton")  # in the cache already, after build-go
  "$PY" "$REPO/tests/cluster/tekton_config.py" "$GOMODCACHE/github.com/tektoncd/pipeline@$tekton/config" > "$STATE/tekton.yaml"
  "${KC[@]}" create -f "$STATE/tekton.yaml" > /dev/null
  "${KC[@]}" wait --for=condition=Established crd/taskruns.tekton.dev --timeout=60s > /dev/null
  stamp "Tekton $tekton CRDs and config applied"

  # git daemon on the node IP: the pods reach it through the bridge, nothing else can.
  "$PY" "$REPO/tests/cluster/fixture_repo.py" "$STATE/git"
  start git-daemon git daemon --listen=$NODE_IP --port=9418 --base-path="$STATE/git" --export-all \
    --reuseaddr --informative-errors "$STATE/git"
  wait_for "git daemon" 10 "${NS[@]}" git ls-remote git://$NODE_IP/app.git
  stamp "git daemon on git://$NODE_IP/"

  # A password-protected registry on the node IP (seed-push): Debian's docker-registry, bcrypt
  # htpasswd, plain http. The password is new every run; the driver reads it from the state dir.
  local reg=$STATE/registry
  mkdir -p "$reg/data"
  printf 'builder\n%s\n' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" > "$reg/credentials"
  chmod 0600 "$reg/credentials"
  sed -n 2p "$reg/credentials" | htpasswd -Bin builder > "$reg/htpasswd" 2> /dev/null
  cat > "$reg/config.yml" << C
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $reg/data}}
http: {addr: "$NODE_IP:5000"}
auth: {htpasswd: {realm: stepkit-e2e, path: $reg/htpasswd}}
C
  start registry docker-registry serve "$reg/config.yml"
  wait_for registry 10 "${NS[@]}" curl -s -o /dev/null http://$NODE_IP:5000/v2/
  stamp "registry (basic auth) on http://$NODE_IP:5000/"
}

# controller_start ENTRYPOINT WORKINGDIRINIT NOP: Tekton's controller as a host process in the
# namespace (its probe, profiling and metrics ports bind to all addresses: only the namespace's).
controller_start() {
  (
    export SYSTEM_NAMESPACE=tekton-pipelines KUBERNETES_MIN_VERSION=v1.28.0 \
      CONFIG_DEFAULTS_NAME=config-defaults CONFIG_LOGGING_NAME=config-logging \
      CONFIG_OBSERVABILITY_NAME=config-observability CONFIG_FEATURE_FLAGS_NAME=feature-flags \
      CONFIG_LEADERELECTION_NAME=config-leader-election-controller CONFIG_SPIRE=config-spire \
      METRICS_DOMAIN=tekton.dev/pipeline
    exec "${NS[@]}" "$BIN/tekton/controller" -kubeconfig="$STATE/admin.kubeconfig" -disable-ha \
      -entrypoint-image "$1" -workingdirinit-image "$2" -nop-image "$3" \
      -sidecarlogresults-image localhost/busybox:1.35 -shell-image localhost/busybox-nonroot:1.35 \
      -shell-image-win localhost/unused-windows-shell:none
  ) >> "$STATE/logs/tekton-controller.log" 2>&1 &
  echo $! > "$STATE/pids/tekton-controller"
  wait_for "Tekton controller" 60 "${NS[@]}" curl -sf http://127.0.0.1:8080/readiness
  stamp "Tekton controller ready (entrypoint image $1)"
}

# stop NAME: SIGTERM the PID we recorded, SIGKILL after 10 s.
stop() {
  local f=$STATE/pids/$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2> /dev/null || { rm -f "$f"; return 0; }
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  rm -f "$f"
}

# controller037_start ENTRYPOINT WORKINGDIRINIT NOP GIT IMAGEDIGESTEXPORTER: Tekton v0.37.2's
# controller, with all ten image flags (it refuses to start without them) and KO_DATA_PATH
# (its pods carry the release annotation read from $KO_DATA_PATH/HEAD, which ko would ship).
controller037_start() {
  local bin=$BIN/tekton-${TEKTON037_VERSION:?} up=localhost/tekton-v037
  mkdir -p "$STATE/kodata"
  echo 0000000000000000000000000000000000037002 > "$STATE/kodata/HEAD"
  (
    export SYSTEM_NAMESPACE=tekton-pipelines CONFIG_DEFAULTS_NAME=config-defaults \
      CONFIG_LOGGING_NAME=config-logging CONFIG_OBSERVABILITY_NAME=config-observability \
      CONFIG_ARTIFACT_BUCKET_NAME=config-artifact-bucket CONFIG_ARTIFACT_PVC_NAME=config-artifact-pvc \
      CONFIG_FEATURE_FLAGS_NAME=feature-flags CONFIG_LEADERELECTION_NAME=config-leader-election \
      METRICS_DOMAIN=tekton.dev/pipeline KO_DATA_PATH=$STATE/kodata
    exec "${NS[@]}" "$bin/controller" -kubeconfig="$STATE/admin.kubeconfig" -disable-ha \
      -entrypoint-image "$1" -workingdirinit-image "$2" -nop-image "$3" -git-image "$4" \
      -imagedigest-exporter-image "$5" -pr-image "$up/pullrequest-init:$TEKTON037_VERSION" \
      -kubeconfig-writer-image "$up/kubeconfigwriter:$TEKTON037_VERSION" \
      -gsutil-image localhost/unused-gsutil:none -shell-image localhost/busybox-nonroot:1.35 \
      -shell-image-win localhost/unused-windows-shell:none
  ) >> "$STATE/logs/tekton-controller.log" 2>&1 &
  echo $! > "$STATE/pids/tekton-controller"
  wait_for "Tekton $TEKTON037_VERSION controller" 60 "${NS[@]}" curl -sf http://127.0.0.1:8080/readiness
  stamp "Tekton $TEKTON037_VERSION controller ready (entrypoint image $1)"
}

controller_stop() { stop tekton-controller; }

cluster_down() {
  # best effort all the way: one thing that will not stop must not keep the rest running
  local -
  set +e
  [ -d "$STATE/pids" ] || { ip netns del "$NETNS" 2> /dev/null || true; return 0; }
  # No graceful pod deletion (it cost 15-30 s of kubelet grace periods): the kubelet stops
  # first, so that it restarts nothing, then every container of our containerd is killed
  # through containerd's own API and the pods' network namespaces are removed by path.
  local d
  for d in tekton-controller scheduler kubelet git-daemon registry; do stop $d; done
  stamp "down: controller, scheduler, kubelet, git daemon, registry stopped"
  if [ -S "$SOCK" ]; then
    local netns_paths pids c
    # pod network namespaces (bind mounts under /run/netns that containerd made for our
    # sandboxes), read from each sandbox container's spec
    netns_paths=$(for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 'labels."io.cri-containerd.kind"==sandbox' 2> /dev/null); do
      ctr -a "$SOCK" -n k8s.io containers info "$c" 2> /dev/null
    done | "$PY" -c '
import json, sys
text = sys.stdin.read()
dec, i = json.JSONDecoder(), 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    info, i = dec.raw_decode(text, i)
    for ns in info.get("Spec", {}).get("linux", {}).get("namespaces", []):
        if ns.get("type") == "network" and ns.get("path"):
            print(ns["path"])' 2> /dev/null | sort -u)
    # the PID of every running task of our containerd (a stopped task's PID may be reused)
    pids=$(ctr -a "$SOCK" -n k8s.io tasks ls 2> /dev/null | awk 'NR > 1 && $3 == "RUNNING" {print $2}')
    [ -z "$pids" ] || kill -9 $pids 2> /dev/null
    for c in $netns_paths; do
      case $c in /var/run/netns/cni-* | /run/netns/cni-*) umount "$c" 2> /dev/null; rm -f "$c" ;; esac
    done
  fi
  stamp "down: containers killed"
  for d in apiserver etcd containerd; do stop $d; done
  stamp "down: apiserver, etcd, containerd stopped"
  # shims of our containerd (they outlive it by design), recognised by our socket in their argv
  local pid
  for pid in $(pgrep -x containerd-shim-runc-v2 2> /dev/null); do
    tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q -- "-address $SOCK " && kill -9 "$pid" 2> /dev/null
  done
  # mounts under the state dir, deepest first (the kubelet bind-mounts its root onto itself)
  awk -v s="$STATE/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true
  done
  # the kubelet's cgroups (cgroup v1: one tree per controller), now empty
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2> /dev/null
  done
  ip netns del "$NETNS" 2> /dev/null || true
  stamp "cluster down"
}
