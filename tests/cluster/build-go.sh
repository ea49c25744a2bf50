#!/bin/bash
# Builds (or reuses) the Go side of the cluster: kube-apiserver, kubelet, kube-scheduler, kubectl
# (k8s.io/kubernetes), Tekton's controller and upstream's entrypoint/workingdirinit/nop (the
# baseline images), the pause program, and crane (go-containerregistry: the seed-push
# scenario's push tool, which reads DOCKER_CONFIG or ~/.docker like docker, ko and kaniko). Everything goes into $CACHE/bin; a binary already
# there is reused, so a second run costs nothing. Scratch modules live in $CACHE/mod-*:
# k8s.io/kubernetes cannot be `go install`ed (its staging replaces), and the proxy refuses
# @v/list for tektoncd/pipeline, so both are required from a module of our own.
# usage: build-go.sh   (env: CACHE, K8S_VERSION, TEKTON_VERSION, CRANE_VERSION, TEKTON037_VERSION;
#                      BUILD_ONLY=k8s|tekton|tekton037|pause|crane
#                      builds just that part, e.g. to run two cold builds side by side)
set -euo pipefail
: "${CACHE:?} ${K8S_VERSION:?} ${TEKTON_VERSION:?} ${CRANE_VERSION:?} ${TEKTON037_VERSION:?}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-p=2 -buildvcs=false"
BIN=$CACHE/bin
mkdir -p "$BIN"
GO="nice -n 19 go"
stamp() { printf '[build-go %s] %s\n' "$(date +%T)" "$*"; }

k8s_minor=${K8S_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
staging=v0.${K8S_VERSION#v1.}

only=${BUILD_ONLY:-}
need_k8s=0
[ -z "$only" ] || [ "$only" = k8s ] || need_k8s=-1
[ $need_k8s = -1 ] || for b in kube-apiserver kubelet kube-scheduler kubectl; do [ -x "$BIN/$b" ] || need_k8s=1; done
if [ $need_k8s = 1 ]; then
  m=$CACHE/mod-k8s; mkdir -p "$m"; cd "$m"
  if [ ! -f go.sum ]; then
    t=$(date +%s)
    $GO mod download -json "k8s.io/kubernetes@$K8S_VERSION" > /dev/null
    mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
    {
      printf 'module stepkit.local/cluster/k8s\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      # every staging module kubernetes replaces with ./staging/... comes from the proxy instead
      grep -E '^\s+k8s.io/\S+ => ./staging' "$mod" | awk -v v="$staging" '{print "\t"$1" => "$1" "v}'
      printf ')\n'
    } > go.mod
    cat > tools.go <<'G'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
G
    $GO mod tidy
    stamp "k8s module resolved in $(( $(date +%s) - t )) s"
  fi
  t=$(date +%s)
  ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean"
  $GO build -trimpath -ldflags="$ld" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  stamp "k8s binaries built in $(( $(date +%s) - t )) s"
fi

need_tekton=0
[ -z "$only" ] || [ "$only" = tekton ] || need_tekton=-1
[ $need_tekton = -1 ] || for b in controller entrypoint workingdirinit nop; do [ -x "$BIN/tekton/$b" ] || need_tekton=1; done
if [ $need_tekton = 1 ]; then
  m=$CACHE/mod-tekton; mkdir -p "$m" "$BIN/tekton"; cd "$m"
  if [ ! -f go.sum ]; then
    t=$(date +%s)
    printf 'module stepkit.local/cluster/tekton\n\ngo 1.26.4\n\nrequire github.com/tektoncd/pipeline %s\n' "$TEKTON_VERSION" > go.mod
    cat > tools.go <<'G'
//go:build tools

package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/controller"
	_ "github.com/tektoncd/pipeline/cmd/entrypoint"
	_ "github.com/tektoncd/pipeline/cmd/nop"
	_ "github.com/tektoncd/pipeline/cmd/workingdirinit"
)
G
    $GO mod tidy
    stamp "tekton module resolved in $(( $(date +%s) - t )) s"
  fi
  t=$(date +%s)
  $GO build -trimpath -ldflags="-s -w" -o "$BIN/tekton/" github.com/tektoncd/pipeline/cmd/controller \
    github.com/tektoncd/pipeline/cmd/entrypoint github.com/tektoncd/pipeline/cmd/workingdirinit github.com/tektoncd/pipeline/cmd/nop
  stamp "tekton binaries built in $(( $(date +%s) - t )) s"
fi

# Tekton v0.37.2 (the seed tutorial's version, PipelineResources): its controller and every
# helper it injects, upstream's baseline for the seed-v037 run.
if { [ -z "$only" ] || [ "$only" = tekton037 ]; } && [ ! -x "$BIN/tekton-$TEKTON037_VERSION/controller" ]; then
  m=$CACHE/mod-tekton-$TEKTON037_VERSION; mkdir -p "$m" "$BIN/tekton-$TEKTON037_VERSION"; cd "$m"
  cmds=(controller entrypoint git-init imagedigestexporter kubeconfigwriter nop pullrequest-init workingdirinit)
  if [ ! -f go.sum ]; then
    printf 'module stepkit.local/cluster/tekton037\n\ngo 1.17\n\nrequire github.com/tektoncd/pipeline %s\n' "$TEKTON037_VERSION" > go.mod
    { printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for c in "${cmds[@]}"; do printf '\t_ "github.com/tektoncd/pipeline/cmd/%s"\n' "$c"; done
      printf ')\n'; } > tools.go
    $GO mod tidy -compat=1.17  # v0.37.2's own go line; tidy would otherwise check go 1.16's selection
  fi
  t=$(date +%s)
  $GO build -trimpath -ldflags="-s -w" -o "$BIN/tekton-$TEKTON037_VERSION/" "${cmds[@]/#/github.com/tektoncd/pipeline/cmd/}"
  stamp "tekton $TEKTON037_VERSION binaries built in $(( $(date +%s) - t )) s"
fi
if { [ -z "$only" ] || [ "$only" = pause ]; } && [ ! -x "$BIN/pause" ]; then
  src=$(dirname "$(readlink -f "$0")")/pause
  m=$CACHE/mod-pause; rm -rf "$m"; mkdir -p "$m"; cp "$src/main.go" "$m/"
  printf 'module stepkit.local/cluster/pause\n\ngo 1.24.0\n' > "$m/go.mod"
  (cd "$m" && $GO build -trimpath -ldflags="-s -w" -o "$BIN/pause" .)
  stamp "pause built"
fi
if { [ -z "$only" ] || [ "$only" = crane ]; } && [ ! -x "$BIN/crane-$CRANE_VERSION/crane" ]; then
  m=$CACHE/mod-crane-$CRANE_VERSION; mkdir -p "$m" "$BIN/crane-$CRANE_VERSION"; cd "$m"
  if [ ! -f go.sum ]; then
    printf 'module stepkit.local/cluster/crane\n\ngo 1.24.0\n\nrequire github.com/google/go-containerregistry %s\n' \
      "$CRANE_VERSION" > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/google/go-containerregistry/cmd/crane"\n' > tools.go
    $GO mod tidy
  fi
  $GO build -trimpath -ldflags="-s -w" -o "$BIN/crane-$CRANE_VERSION/crane" github.com/google/go-containerregistry/cmd/crane
  stamp "crane $CRANE_VERSION built"
fi
stamp "all Go binaries present"
