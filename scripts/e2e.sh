#!/usr/bin/env bash
# End-to-end tests: Tekton-shaped pods (the controller's init containers, step argv and
# /tekton volumes) run with `podman kube play` on the stepkit images in target/images.
#
#   scripts/e2e.sh [scenario-name...]
#
# Installs podman, runc, buildah, busybox-static, git and python3 with apt-get when missing
# (CI runs as root), then runs tests/e2e/e2e.py. All container state (vfs storage, runroot,
# configuration) is private to the run and removed at the end; /etc is not modified.
# Prints `e2e: N passed, M failed` and exits non-zero on failure. When podman cannot run a
# container on this host at all, prints the reason and exits 0 with "skipped" (set
# STEPKIT_E2E_REQUIRE=1 to make that a failure instead).
# Environment: STEPKIT_IMAGES_DIR (default target/images), STEPKIT_E2E_DIR (default target/e2e).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGES_DIR=${STEPKIT_IMAGES_DIR:-$ROOT/target/images}
E2E_DIR=${STEPKIT_E2E_DIR:-$ROOT/target/e2e}

skip() {
  echo "e2e: skipped: $*"
  if [ "${STEPKIT_E2E_REQUIRE:-0}" = 1 ] || [ "${STEPKIT_REQUIRE_ALL:-0}" = 1 ]; then
    echo "e2e: STEPKIT_E2E_REQUIRE=1 or STEPKIT_REQUIRE_ALL=1, so a skip is a failure" >&2
    exit 1
  fi
  exit 0
}

if [ "$(uname -s)" != Linux ]; then
  skip "podman pods need Linux (this is $(uname -s))"
fi

# Debian package providing each command the tests run.
declare -A PACKAGE_OF=(
  [podman]=podman [runc]=runc [conmon]=conmon [catatonit]=catatonit [buildah]=buildah
  [busybox]=busybox-static [git]=git [python3]=python3
)
missing=()
for cmd in "${!PACKAGE_OF[@]}"; do
  if ! command -v "$cmd" >/dev/null && ! [ -x "/usr/libexec/podman/$cmd" ] && ! [ -x "/usr/bin/$cmd" ]; then
    missing+=("${PACKAGE_OF[$cmd]}")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    skip "missing ${missing[*]} and not root, so they cannot be installed"
  fi
  echo "e2e: installing ${missing[*]}" >&2
  if ! { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"; } >&2; then
    skip "apt-get install ${missing[*]} failed"
  fi
fi
if [ "$(id -u)" != 0 ]; then
  skip "rootless podman is not set up by this script; run as root (CI does)"
fi

for name in entrypoint git-init workingdirinit creds-init nop; do
  if [ ! -f "$IMAGES_DIR/$name.oci.tar" ]; then
    echo "e2e: missing $IMAGES_DIR/$name.oci.tar: run 'make images' first" >&2
    exit 1
  fi
done

exec python3 "$ROOT/tests/e2e/e2e.py" --images "$IMAGES_DIR" --work "$E2E_DIR" "$@"
