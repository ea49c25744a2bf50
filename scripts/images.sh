#!/usr/bin/env bash
# Builds the stepkit OCI images from static release binaries, with buildah (no daemon, no
# registry), into target/images/<name>.oci.tar, then prints a size table.
#
#   scripts/images.sh <release-dir>                        build every image
#   scripts/images.sh --check-reproducible <release-dir>   build twice from scratch, compare digests
#
# The release dir is what `make build` produces (target/x86_64-unknown-linux-gnu/release).
# Environment: STEPKIT_IMAGES_DIR (default target/images) is where archives go;
# STEPKIT_IMAGE_REPO (default localhost/stepkit) is the name the archives load under;
# STEPKIT_REVISION overrides the revision label (default: git HEAD, "-dirty" if modified).
# Runs as root in CI and installs buildah with apt-get when it is missing. Container state
# (vfs storage, configuration) lives in a temporary directory under the output directory and
# is removed on exit; nothing under /etc or /var/lib/containers is touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGES=(entrypoint git-init workingdirinit creds-init nop imagedigestexporter sidecarlogresults)
REPO=${STEPKIT_IMAGE_REPO:-localhost/stepkit}

usage() {
  echo "usage: $0 [--check-reproducible] <release-dir>" >&2
  exit 2
}

check_reproducible=false
release=""
for arg in "$@"; do
  case $arg in
    --check-reproducible) check_reproducible=true ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $arg" >&2; usage ;;
    *) [ -z "$release" ] || usage; release=$arg ;;
  esac
done
[ -n "$release" ] || usage
[ -d "$release" ] || { echo "release dir not found: $release" >&2; exit 1; }
release=$(cd "$release" && pwd)
OUT=${STEPKIT_IMAGES_DIR:-$ROOT/target/images}

# Cargo binary name for each image (the image path keeps upstream's /ko-app/<name>).
binary_of() {
  case $1 in
    workingdirinit) echo workingdir-init ;;
    *) echo "$1" ;;
  esac
}

ensure_tools() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v python3 >/dev/null || missing+=(python3)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "images.sh: missing ${missing[*]} and not root, cannot apt-get install them" >&2
    exit 1
  fi
  echo "images.sh: installing ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >&2
}

# Every binary must exist and be static: the entrypoint is copied into user images (musl,
# distroless, scratch) and the images have no libc.
check_binaries() {
  local name bin bad=0
  for name in "${IMAGES[@]}"; do
    bin=$release/$(binary_of "$name")
    if [ ! -x "$bin" ]; then
      echo "images.sh: missing binary $bin (run 'make build')" >&2
      bad=1
    elif readelf -l "$bin" 2>/dev/null | grep -q 'Requesting program interpreter'; then
      echo "images.sh: $bin is dynamically linked; build with 'make build'" >&2
      bad=1
    fi
  done
  [ $bad = 0 ] || exit 1
}

# The build context the Containerfiles expect (documented in docs/images.md).
make_context() {
  local ctx=$1 release=${2:-$release} name
  rm -rf "$ctx"
  mkdir -p "$ctx/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/home/nonroot" "$ctx/certs"
  for name in "${IMAGES[@]}"; do
    install -m 0755 "$release/$(binary_of "$name")" "$ctx/bin/$name"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$ctx/rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$ctx/rootfs/etc/group"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$ctx/certs/ca-certificates.crt"
  chmod 0644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group"
  chmod 0755 "$ctx/rootfs" "$ctx/rootfs/etc" "$ctx/home" "$ctx/home/nonroot"
  chmod 1777 "$ctx/rootfs/tmp"
}

# Private containers configuration: vfs storage under $1, runc, no registries.
setup_containers_env() {
  local work=$1
  mkdir -p "$work/storage" "$work/run" "$work/tmp"
  cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >"$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
  echo 'unqualified-search-registries = []' >"$work/registries.conf"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/policy.json"
  export CONTAINERS_CONF=$work/containers.conf
  export CONTAINERS_STORAGE_CONF=$work/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$work/registries.conf
  export TMPDIR=$work/tmp
}

version_of_workspace() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1
}

source_of_workspace() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^repository *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1
}

revision_of_tree() {
  local rev
  rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null) || { echo unknown; return; }
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    rev="$rev-dirty"
  fi
  echo "$rev"
}

# An OCI layout directory as a tar with fixed order, owners and times, so equal images give
# byte-identical archives.
deterministic_tar() {
  local dir=$1 out=$2
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$dir" -cf "$out.partial" .
  mv "$out.partial" "$out"
}

# build_all <out-dir> [arm64-release-dir]: every image into <out-dir>/<name>.oci.tar; with an
# arm64 release dir each archive holds an image index with linux/amd64 and linux/arm64.
build_all() {
  local out=$1 arm=${2:-} work ctx name version source tag
  mkdir -p "$out"
  work=$(mktemp -d "$out/.work.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap must remove this call's directory
  trap "cleanup_work '$work'" EXIT
  setup_containers_env "$work"
  ctx=$work/context
  make_context "$ctx"
  version=$(version_of_workspace)
  source=$(source_of_workspace)
  tag=${version:-dev}
  if [ -n "$arm" ]; then
    make_context "$work/context-arm64" "$arm"
  fi
  for name in "${IMAGES[@]}"; do
    buildah build --quiet --timestamp 0 --network none --pull=never --platform linux/amd64 \
      --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source" \
      -f "$ROOT/images/$name.Containerfile" -t "$REPO/$name:$tag" "$ctx" >/dev/null
    rm -rf "$work/oci-$name"
    buildah push --quiet --signature-policy "$work/policy.json" \
      "$REPO/$name:$tag" "oci:$work/oci-$name:$REPO/$name:$tag" >/dev/null
    if [ -n "$arm" ]; then
      buildah build --quiet --timestamp 0 --network none --pull=never --platform linux/arm64 \
        --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source" \
        -f "$ROOT/images/$name.Containerfile" -t "$REPO/$name:$tag-arm64" "$work/context-arm64" >/dev/null
      buildah push --quiet --signature-policy "$work/policy.json" \
        "$REPO/$name:$tag-arm64" "oci:$work/oci-$name-arm64:$REPO/$name:$tag" >/dev/null
      merge_into_index "$work/oci-$name" "$work/oci-$name-arm64" "$REPO/$name:$tag"
    fi
    deterministic_tar "$work/oci-$name" "$out/$name.oci.tar"
  done
  cleanup_work "$work"
  trap - EXIT
}

# Folds the arm64 layout into the amd64 one: index.json then points (under the same ref name)
# at an image index listing both platform manifests.
merge_into_index() {
  python3 - "$@" <<'PY'
import hashlib, json, os, shutil, sys
amd, arm, ref = sys.argv[1:4]
manifests = []
for layout, arch in ((amd, "amd64"), (arm, "arm64")):
    desc = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]
    desc = {k: v for k, v in desc.items() if k != "annotations"}
    desc["platform"] = {"architecture": arch, "os": "linux"}
    manifests.append(desc)
    for blob in os.listdir(os.path.join(layout, "blobs/sha256")):
        dst = os.path.join(amd, "blobs/sha256", blob)
        if not os.path.exists(dst):
            shutil.copyfile(os.path.join(layout, "blobs/sha256", blob), dst)
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": manifests}, separators=(",", ":")).encode()
digest = hashlib.sha256(index).hexdigest()
open(os.path.join(amd, "blobs/sha256", digest), "wb").write(index)
top = {"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + digest,
    "size": len(index), "annotations": {"org.opencontainers.image.ref.name": ref}}]}
open(os.path.join(amd, "index.json"), "w").write(json.dumps(top, separators=(",", ":")))
PY
}

# The arm64 release dir to build from, or "" after printing why arm64 is skipped.
arm64_release() {
  local dir=${STEPKIT_ARM64_RELEASE:-}
  if [ -z "$dir" ]; then
    dir=$(dirname "$(dirname "$release")")/aarch64-unknown-linux-gnu/release
    if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
      echo "arm64: skipped: the Rust target aarch64-unknown-linux-gnu is not installed" \
        "('rustup target add aarch64-unknown-linux-gnu' needs the Rust distribution server)" >&2
      return 0
    fi
    if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
      echo "arm64: skipped: no cross linker (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2
      return 0
    fi
  fi
  local name
  for name in "${IMAGES[@]}"; do
    if [ ! -x "$dir/$(binary_of "$name")" ]; then
      echo "arm64: skipped: no $dir/$(binary_of "$name") (build with: make build TARGET=aarch64-unknown-linux-gnu)" >&2
      return 0
    fi
    # Stale arm64 binaries next to fresh amd64 ones would make an index of two different trees.
    if [ "$dir/$(binary_of "$name")" -ot "$release/$(binary_of "$name")" ]; then
      echo "arm64: skipped: $dir/$(binary_of "$name") is older than the amd64 build; rebuild arm64" >&2
      return 0
    fi
  done
  echo "$dir"
}

cleanup_work() {
  local work=$1
  if [ -d "$work" ]; then
    buildah rm --all >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}

# Prints name, binary size, compressed and uncompressed image size and manifest digest.
size_table() {
  local out=$1
  python3 - "$out" "$release" "${IMAGES[@]}" <<'EOF'
import gzip, json, os, sys, tarfile
out, release, names = sys.argv[1], sys.argv[2], sys.argv[3:]
binary = {"workingdirinit": "workingdir-init"}
def mb(n): return f"{n / 1e6:.2f} MB"
print(f"{'image':<22}{'binary':>10}{'compressed':>13}{'uncompressed':>15}  digest")
for name in names:
    with tarfile.open(os.path.join(out, name + ".oci.tar")) as tar:
        read = lambda d: tar.extractfile("./blobs/sha256/" + d["digest"].split(":")[1]).read()
        top = json.loads(tar.extractfile("./index.json").read())["manifests"][0]
        rows = [(top, "")]
        if top["mediaType"].endswith("index.v1+json"):
            print(f"{name:<22}{'':>10}{'':>13}{'':>15}  {top['digest']} (index)")
            rows = [(m, m["platform"]["architecture"]) for m in json.loads(read(top))["manifests"]]
        for desc, arch in rows:
            manifest = json.loads(read(desc))
            compressed = desc["size"] + manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
            uncompressed = sum(len(gzip.decompress(read(l))) if "gzip" in l["mediaType"] else l["size"]
                               for l in manifest["layers"])
            size = os.path.getsize(os.path.join(release, binary.get(name, name))) if arch in ("", "amd64") else 0
            label = f"{name} ({arch})" if arch else name
            print(f"{label:<22}{mb(size) if size else '':>10}{mb(compressed):>13}{mb(uncompressed):>15}  {desc['digest']}")
EOF
}

digests() {
  local out=$1 name
  for name in "${IMAGES[@]}"; do
    echo "$name $(sha256sum <"$out/$name.oci.tar" | cut -d' ' -f1) $(tar -xOf "$out/$name.oci.tar" ./index.json | sha256sum | cut -d' ' -f1)"
  done
}

ensure_tools
check_binaries
# Read once: other work may commit while the images build; both builds of
# --check-reproducible must carry the same label.
revision=${STEPKIT_REVISION:-$(revision_of_tree)}
arm=$(arm64_release)
build_all "$OUT" "$arm"
echo "images in $OUT:"
size_table "$OUT"

if $check_reproducible; then
  second=$(mktemp -d "$OUT/.repro.XXXXXX")
  build_all "$second" "$arm"
  if diff <(digests "$OUT") <(digests "$second") >/dev/null; then
    echo "reproducible: a second build from scratch gave byte-identical archives"
    rm -rf "$second"
  else
    echo "NOT reproducible: archive / index digests differ (first, second):" >&2
    diff <(digests "$OUT") <(digests "$second") >&2 || true
    echo "second build kept in $second" >&2
    exit 1
  fi
fi
