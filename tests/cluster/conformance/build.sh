#!/bin/bash
# Builds (or reuses) the Go side of `make conformance` into $CACHE/conformance:
#   bin/controller         Tekton's controller again, linked with a release stamp: pods carry
#                          the annotation pipeline.tekton.dev/release from knative's changeset,
#                          which is "unknown" for a binary built from the module zip (no VCS
#                          info) and TestTaskRunFailure checks it matches ^[a-f0-9]{7}$. The
#                          stamp is the first 7 hex digits of the module zip's sha256.
#   bin/kube-controller-manager
#                          the tests wait for each new namespace's default ServiceAccount, and
#                          PVC workspaces need the affinity assistant's StatefulSet and a
#                          provisioner (module mod-kcm: mod-k8s's requirements + this command)
#   bin/webhook            Tekton's admission/conversion webhook, run as a host process
#                          (module mod-webhook: mod-tekton's requirements + this command)
#   bin/sidecarlogresults  upstream's results-from=sidecar-logs sidecar (stepkit has none: both
#                          image sets use this one)
#   e2e.test, conformance.test, examples.test
#                          upstream's suite (test/, build tags e2e, conformance, examples),
#                          compiled in a writable copy of the module (pipeline/), never copied
#                          into this repository; each must run with pipeline/test as cwd.
# usage: build.sh   (env: CACHE, TEKTON_VERSION, K8S_VERSION; CONFORMANCE_TAGS: which suite
#                   binaries, default "e2e conformance examples")
set -euo pipefail
: "${CACHE:?} ${TEKTON_VERSION:?} ${K8S_VERSION:?}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-p=2 -buildvcs=false"
GO="nice -n 19 go"
OUT=$CACHE/conformance
mkdir -p "$OUT/bin"
stamp() { printf '[conformance-build %s] %s\n' "$(date +%T)" "$*"; }
mod=github.com/tektoncd/pipeline
(cd / && go mod download "$mod@$TEKTON_VERSION")
src=$(go env GOMODCACHE)/$mod@$TEKTON_VERSION
zip=$(go env GOMODCACHE)/cache/download/$mod/@v/$TEKTON_VERSION.zip
rev=$(sha256sum "$zip" | cut -c1-7)

if [ ! -x "$OUT/bin/controller" ] || [ ! -x "$OUT/bin/sidecarlogresults" ]; then
  [ -f "$CACHE/mod-tekton/go.sum" ] || { echo "conformance-build: run tests/cluster/build-go.sh first" >&2; exit 1; }
  t=$(date +%s)
  (cd "$CACHE/mod-tekton" &&
    $GO build -trimpath -ldflags="-s -w -X knative.dev/pkg/changeset.rev=$rev" -o "$OUT/bin/" "$mod/cmd/controller" &&
    $GO build -trimpath -ldflags="-s -w" -o "$OUT/bin/" "$mod/cmd/sidecarlogresults")
  stamp "controller (release $rev) and sidecarlogresults built in $(( $(date +%s) - t )) s"
fi

if [ ! -x "$OUT/bin/kube-controller-manager" ]; then
  m=$OUT/mod-kcm; mkdir -p "$m"
  if [ ! -f "$m/go.sum" ]; then
    [ -f "$CACHE/mod-k8s/go.sum" ] || { echo "conformance-build: run tests/cluster/build-go.sh first" >&2; exit 1; }
    sed 's#^module .*#module stepkit.local/cluster/kcm#' "$CACHE/mod-k8s/go.mod" > "$m/go.mod"
    cp "$CACHE/mod-k8s/go.sum" "$m/go.sum"
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-controller-manager"\n' > "$m/tools.go"
    (cd "$m" && $GO mod tidy)
  fi
  t=$(date +%s)
  k8s_minor=${K8S_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
  ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$m" && $GO build -trimpath -ldflags="$ld" -o "$OUT/bin/" k8s.io/kubernetes/cmd/kube-controller-manager)
  stamp "kube-controller-manager built in $(( $(date +%s) - t )) s"
fi

if [ ! -x "$OUT/bin/webhook" ]; then
  m=$OUT/mod-webhook; mkdir -p "$m"
  if [ ! -f "$m/go.sum" ]; then
    sed 's#^module .*#module stepkit.local/cluster/webhook#' "$CACHE/mod-tekton/go.mod" > "$m/go.mod"
    cp "$CACHE/mod-tekton/go.sum" "$m/go.sum"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/webhook"\n' "$mod" > "$m/tools.go"
    (cd "$m" && $GO mod tidy)
  fi
  (cd "$m" && $GO build -trimpath -ldflags="-s -w" -o "$OUT/bin/" "$mod/cmd/webhook")
  stamp "webhook built"
fi

if [ ! -d "$OUT/pipeline/test" ]; then
  rm -rf "$OUT/pipeline.partial"
  cp -a "$src" "$OUT/pipeline.partial"
  chmod -R u+w "$OUT/pipeline.partial"
  mv "$OUT/pipeline.partial" "$OUT/pipeline"
fi
for tag in ${CONFORMANCE_TAGS:-e2e conformance examples}; do
  [ -x "$OUT/$tag.test" ] && continue
  t=$(date +%s)
  (cd "$OUT/pipeline" && $GO test -vet=off -tags "$tag" -c -o "$OUT/$tag.test.partial" ./test)
  mv "$OUT/$tag.test.partial" "$OUT/$tag.test"
  stamp "$tag.test built in $(( $(date +%s) - t )) s"
done
stamp "all present"
