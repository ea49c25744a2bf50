#!/bin/bash
# Builds the node's own images as OCI archives in $CACHE/images (reused when present):
#   localhost/pause:3.10                      the sandbox image (tests/cluster/pause)
#   localhost/busybox:1.35                    step and sidecar image (Debian's busybox-static)
#   localhost/busybox-nonroot:1.35            the same as uid 65532: the controller's shell image
#   localhost/tekton-upstream/<name>:<ver>    upstream's entrypoint, workingdirinit, nop, packaged
#                                             as ko does: FROM scratch, /ko-app/<name>, USER 65532
#   localhost/golang:<go version>             busybox + this machine's Go toolchain (seed-test's
#                                             `go test ./...`), the std library precompiled
#   localhost/crane:<crane version>           busybox + crane, USER 65532 with a root-owned
#                                             HOME=/home/nonroot, like the seed's build step
# and for the seed-v037 run (Tekton v0.37.2):
#   localhost/tekton-v037/<name>:v0.37.2      upstream's entrypoint, workingdirinit, nop,
#                                             imagedigestexporter, pullrequest-init,
#                                             kubeconfigwriter, packaged as ko did (HOME owned by 65532)
#   localhost/tekton-v037/git-init:v0.37.2    upstream's git-init + Debian's git and ssh (it runs them)
#   docker.io/library/golang:1.14-alpine      the Go image again, GO111MODULE=off (Go 1.14's GOPATH mode)
#   docker.io/library/docker:stable           busybox + crane + seed-v037/docker, a docker CLI stand-in
# Explicit non-latest tags, so pods get imagePullPolicy IfNotPresent and nothing is pulled.
# usage: node-images.sh   (env: CACHE, TEKTON_VERSION, CRANE_VERSION, TEKTON037_VERSION)
set -euo pipefail
: "${CACHE:?} ${TEKTON_VERSION:?} ${CRANE_VERSION:?} ${TEKTON037_VERSION:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$CACHE/images
BIN=$CACHE/bin
mkdir -p "$OUT"
V037_HELPERS=(entrypoint workingdirinit nop imagedigestexporter pullrequest-init kubeconfigwriter)
want=(pause busybox busybox-nonroot upstream-entrypoint upstream-workingdirinit upstream-nop golang crane
  "${V037_HELPERS[@]/#/v037-}" v037-git-init golang-1.14-alpine docker-stable)
missing=0
for w in "${want[@]}"; do [ -s "$OUT/$w.oci.tar" ] || missing=1; done
[ $missing = 1 ] || { echo "node-images: all present"; exit 0; }

work=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'buildah --root "$work/root" --runroot "$work/run" --storage-driver vfs rm --all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
B=(buildah --root "$work/root" --runroot "$work/run" --storage-driver vfs)
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$work/policy.json"

# commit_archive CONTAINER NAME FILE: commits the working container and writes its OCI archive.
commit_archive() {
  local c=$1 name=$2 file=$3
  "${B[@]}" commit -q --timestamp 0 "$c" "$name" > /dev/null
  "${B[@]}" rm "$c" > /dev/null
  rm -f "$OUT/$file.partial"
  "${B[@]}" push -q --signature-policy "$work/policy.json" "$name" "oci-archive:$OUT/$file.partial:$name" > /dev/null
  mv "$OUT/$file.partial" "$OUT/$file"
}

# A root filesystem with the users ko's base (distroless static) has, and a sticky /tmp.
base_root() {
  local r=$1
  mkdir -p "$r/etc" "$r/tmp" "$r/home/nonroot"
  chmod 1777 "$r/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$r/etc/group"
}

c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$BIN/pause" /pause > /dev/null
"${B[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
commit_archive "$c" localhost/pause:3.10 pause.oci.tar

r=$work/busybox; base_root "$r"; mkdir -p "$r/bin"
cp /bin/busybox "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" config --env PATH=/bin --cmd '["/bin/sh"]' "$c"
commit_archive "$c" localhost/busybox:1.35 busybox.oci.tar
# The controller's shell image (place-scripts init container) runs as nonroot, like upstream's
# default (cgr.dev/chainguard/busybox): with set-security-context it must pass runAsNonRoot.
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" config --env PATH=/bin --cmd '["/bin/sh"]' --user 65532:65532 "$c"
commit_archive "$c" localhost/busybox-nonroot:1.35 busybox-nonroot.oci.tar

for name in entrypoint workingdirinit nop; do
  r=$work/$name; base_root "$r"; mkdir -p "$r/ko-app"
  cp "$BIN/tekton/$name" "$r/ko-app/$name"
  c=$("${B[@]}" from scratch)
  "${B[@]}" copy "$c" "$r/" / > /dev/null
  "${B[@]}" config --entrypoint "[\"/ko-app/$name\"]" --user 65532:65532 \
    --env PATH=/usr/local/bin:/usr/bin:/bin:/ko-app --env KO_DATA_PATH=/var/run/ko "$c"
  commit_archive "$c" "localhost/tekton-upstream/$name:$TEKTON_VERSION" "upstream-$name.oci.tar"
done
# The Go step image: the toolchain at the same GOROOT as here, so that the std library compiled
# here into its GOCACHE has the action ids `go test` computes in the pod (no 30-60 s cold
# compile of runtime, fmt, testing... in every run). No cgo: the image has no C compiler.
goroot=$(go env GOROOT)
r=$work/golang; base_root "$r"; mkdir -p "$r/bin" "$r$goroot" "$r/gocache"
cp -a "$work/busybox/bin/." "$r/bin/"
tar -C "$goroot" --exclude=./src/cmd --exclude=./test --exclude=./api --exclude=./doc --exclude=./misc \
  -cf - . | tar -C "$r$goroot" -xf -
warm=$work/warm-module; mkdir -p "$warm"
printf 'module warm.invalid/m\n\ngo 1.22\n' > "$warm/go.mod"
printf 'package m\n\nimport (\n\t"fmt"\n\t"testing"\n)\n\nfunc TestWarm(t *testing.T) { _ = fmt.Sprint(1) }\n' > "$warm/m_test.go"
# once in module mode (seed-test) and once in GOPATH mode (the v0.37 tutorial's GO111MODULE=off)
for mode in on off; do
  (cd "$warm" && GOCACHE=$r/gocache GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local GOPROXY=off \
    GO111MODULE=$mode go test . > /dev/null)
done
chmod -R a+rwX "$r/gocache"
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
go_env=(--env "PATH=$goroot/bin:/bin" --env GOCACHE=/gocache --env GOPATH=/tmp/go --env GOFLAGS=-buildvcs=false
  --env CGO_ENABLED=0 --env GOTOOLCHAIN=local --env GOPROXY=off)
"${B[@]}" config "${go_env[@]}" --cmd '["/bin/sh"]' "$c"
commit_archive "$c" "localhost/golang:$(go env GOVERSION | sed 's/^go//')" golang.oci.tar
# The seed's golang:1.14-alpine: Go 1.14's default on a repository without go.mod was GOPATH
# mode, hence GO111MODULE=off (and `ok _/workspace/repo`, as in the tutorial).
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" config "${go_env[@]}" --env GO111MODULE=off --cmd '["/bin/sh"]' "$c"
commit_archive "$c" docker.io/library/golang:1.14-alpine golang-1.14-alpine.oci.tar

# The seed's build step: non-root, its HOME a directory it cannot write (upstream's entrypoint
# then cannot copy the docker credentials there). /seed/layer.tar is what it pushes.
r=$work/crane; base_root "$r"; mkdir -p "$r/bin" "$r/usr/local/bin" "$r/seed/content"
cp -a "$work/busybox/bin/." "$r/bin/"
cp "$BIN/crane-$CRANE_VERSION/crane" "$r/usr/local/bin/crane"
echo "built by stepkit's cluster e2e" > "$r/seed/content/hello.txt"
tar -C "$r/seed/content" --owner=0 --group=0 --mtime=@0 -cf "$r/seed/layer.tar" .
chmod 0755 "$r/home/nonroot"
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" config --env PATH=/usr/local/bin:/bin --user 65532:65532 --cmd '["/bin/sh"]' "$c"
commit_archive "$c" "localhost/crane:$CRANE_VERSION" crane.oci.tar

# The seed's docker:stable: root, busybox, crane and the docker stand-in.
mkdir -p "$r/root" "$r/usr/bin"
cp "$HERE/seed-v037/docker" "$r/usr/bin/docker"
ln -sf /bin/busybox "$r/usr/bin/env"  # the tutorial's script starts with #!/usr/bin/env sh
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" config --env PATH=/usr/local/bin:/usr/bin:/bin --user 0:0 --cmd '["/bin/sh"]' "$c"
commit_archive "$c" docker.io/library/docker:stable docker-stable.oci.tar

# Tekton v0.37.2's helpers as ko packaged them: distroless's nonroot owns its HOME.
V037=$BIN/tekton-$TEKTON037_VERSION
for name in "${V037_HELPERS[@]}"; do
  r=$work/v037-$name; base_root "$r"; mkdir -p "$r/ko-app"
  cp "$V037/$name" "$r/ko-app/$name"
  c=$("${B[@]}" from scratch)
  "${B[@]}" copy "$c" "$r/" / > /dev/null
  "${B[@]}" copy --chown 65532:65532 "$c" "$r/home/nonroot" /home/nonroot > /dev/null
  "${B[@]}" config --entrypoint "[\"/ko-app/$name\"]" --user 65532:65532 \
    --env PATH=/ko-app:/usr/local/bin:/usr/bin:/bin --env HOME=/home/nonroot "$c"
  commit_archive "$c" "localhost/tekton-v037/$name:$TEKTON037_VERSION" "v037-$name.oci.tar"
done
# v0.37.2's git-init runs the git CLI (and ssh): Debian's, with the shared libraries ldd names,
# and busybox for git's shell-script subcommands.
r=$work/v037-git-init; base_root "$r"; mkdir -p "$r/ko-app" "$r/usr/bin" "$r/usr/lib" "$r/usr/share" "$r/bin" "$r/root"
cp "$V037/git-init" "$r/ko-app/git-init"
cp /usr/bin/git /usr/bin/ssh "$r/usr/bin/"
cp -a /usr/lib/git-core "$r/usr/lib/"; cp -a /usr/share/git-core "$r/usr/share/"
for lib in $(ldd /usr/bin/git /usr/bin/ssh /usr/lib/git-core/git-remote-http | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
  mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"
done
cp /bin/busybox "$r/bin/busybox"
for a in sh sed grep cat ls mkdir rm basename dirname tr wc printf test tee; do ln -sf busybox "$r/bin/$a"; done
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$r/" / > /dev/null
"${B[@]}" copy --chown 65532:65532 "$c" "$r/home/nonroot" /home/nonroot > /dev/null
"${B[@]}" config --entrypoint '["/ko-app/git-init"]' --user 65532:65532 --env PATH=/ko-app:/usr/bin:/bin \
  --env HOME=/home/nonroot "$c"
commit_archive "$c" "localhost/tekton-v037/git-init:$TEKTON037_VERSION" v037-git-init.oci.tar
echo "node-images: built ${want[*]}"
