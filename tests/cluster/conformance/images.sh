#!/bin/bash
# Builds the stand-in step images of images.tsv (and upstream's sidecarlogresults image) as OCI
# archives under $CACHE/conformance/images, from Debian packages (busybox-static, bash, python3,
# git): row N of images.tsv becomes row-N.oci.tar, image localhost/conformance/row-N:1; load.sh
# then serves it under the row's reference. Rebuilt only when images.tsv or this script changes.
# usage: images.sh   (env: CACHE, TEKTON_VERSION)
set -euo pipefail
: "${CACHE:?} ${TEKTON_VERSION:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$CACHE/conformance/images
mkdir -p "$OUT"
key=$(cat "$HERE/images.tsv" "$0" | sha256sum | cut -c1-16)
[ "$(cat "$OUT/.key" 2> /dev/null)" = "$key" ] && { echo "conformance-images: up to date"; exit 0; }
rm -f "$OUT"/*.oci.tar "$OUT/.key"

work=$(mktemp -d "$CACHE/conformance/.images.XXXXXX")
B=(buildah --root "$work/root" --runroot "$work/run" --storage-driver vfs)
trap '"${B[@]}" rm --all > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$work/policy.json"
commit_archive() {  # CONTAINER NAME FILE
  "${B[@]}" commit -q --timestamp 0 "$1" "$2" > /dev/null
  "${B[@]}" rm "$1" > /dev/null
  "${B[@]}" push -q --signature-policy "$work/policy.json" "$2" "oci-archive:$OUT/$3.partial:$2" > /dev/null
  mv "$OUT/$3.partial" "$OUT/$3"
}
# copy_with_libs ROOT FILE...: FILE and the shared libraries ldd names, at the same paths.
copy_with_libs() {
  local r=$1 f lib; shift
  for f in "$@"; do mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"; done
  for lib in $(ldd "$@" 2> /dev/null | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"
  done
}

# shell: what the tests use from busybox, ubuntu, alpine and bash (sh, bash, coreutils-like
# applets, /usr/bin/env for `#!/usr/bin/env bash` scripts), root, HOME=/root.
r=$work/shell
mkdir -p "$r"/{bin,usr/bin,usr/local/bin,etc,tmp,root,home/nonroot,workspace}
chmod 1777 "$r/tmp"
cp /bin/busybox "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
rm -f "$r/bin/bash"
copy_with_libs "$r" /bin/bash
ln -s /bin/busybox "$r/usr/bin/env"
printf '%s\n' '#!/bin/bash' '# the bash image'"'"'s entrypoint: bash for no args or an option, else the command' \
  'set -e' 'if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- bash "$@"; fi' 'exec "$@"' \
  > "$r/usr/local/bin/docker-entrypoint.sh"
chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh' > "$r/etc/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$r/etc/group"
# python: + Debian's python3 and its standard library (without tests and GUI parts)
p=$work/python; cp -a "$r" "$p"
copy_with_libs "$p" /usr/bin/python3.11
ln -s python3.11 "$p/usr/bin/python3"; ln -s python3.11 "$p/usr/bin/python"
mkdir -p "$p/usr/lib"
tar -C /usr/lib --exclude='python3.11/test' --exclude='python3.11/idlelib' --exclude='python3.11/tkinter' \
  --exclude='python3.11/ensurepip' --exclude='python3.11/lib2to3' --exclude='python3.11/dist-packages' \
  --exclude='__pycache__' -cf - python3.11 | tar -C "$p/usr/lib" -xf -
for lib in $(ldd /usr/lib/python3.11/lib-dynload/*.so 2> /dev/null | awk '/=>/ {print $3}' | sort -u); do
  mkdir -p "$p$(dirname "$lib")"; cp -nL "$lib" "$p$lib"
done
# git: + Debian's git (and its helpers for http/https remotes)
g=$work/git; cp -a "$r" "$g"
copy_with_libs "$g" /usr/bin/git /usr/lib/git-core/git-remote-http
cp -a /usr/lib/git-core "$g/usr/lib/"; mkdir -p "$g/usr/share"; cp -a /usr/share/git-core "$g/usr/share/"

n=0
while IFS=$'\t' read -r ref standin ep cmd; do
  case $ref in '#'* | '') continue ;; esac
  n=$((n + 1))
  mkdir -p "$work/marker-$n/etc"; printf '%s\n' "$ref" > "$work/marker-$n/etc/stepkit-standin"
  c=$("${B[@]}" from scratch)
  "${B[@]}" copy "$c" "$work/$standin/" / > /dev/null
  "${B[@]}" copy "$c" "$work/marker-$n/" / > /dev/null
  cfg=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env HOME=/root)
  [ "$ep" = - ] || cfg+=(--entrypoint "$ep")
  [ "$cmd" = - ] || cfg+=(--cmd "$cmd")
  "${B[@]}" config "${cfg[@]}" "$c"
  commit_archive "$c" "localhost/conformance/row-$n:1" "row-$n.oci.tar"
done < "$HERE/images.tsv"

# upstream's sidecarlogresults, packaged as ko does
s=$work/slr; mkdir -p "$s/ko-app" "$s/etc" "$s/tmp"; chmod 1777 "$s/tmp"
cp "$CACHE/conformance/bin/sidecarlogresults" "$s/ko-app/sidecarlogresults"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$s/etc/passwd"
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" "$s/" / > /dev/null
"${B[@]}" config --entrypoint '["/ko-app/sidecarlogresults"]' --user 65532:65532 "$c"
commit_archive "$c" "localhost/tekton-upstream/sidecarlogresults:$TEKTON_VERSION" sidecarlogresults.oci.tar
echo "$key" > "$OUT/.key"
echo "conformance-images: $n stand-ins and sidecarlogresults built"
