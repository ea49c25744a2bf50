#!/usr/bin/env bash
# stepkit vs upstream Tekton entrypoint, measured side by side on this machine.
#
#   ./scripts/bench.sh <release-dir> [--quick] [harness options...]
#
# Prints a Markdown table, writes target/bench/results.json and target/bench/handoff.svg.
# Upstream's entrypoint reads some paths under /tekton hard-coded (results, the
# cancel file, step links), so when run as root the harness runs inside a private
# mount namespace with a tmpfs on /tekton: nothing outside the namespace sees it.
# If /tekton does not exist, an empty directory is created as the mount point and
# removed again on exit. Methods: docs/bench.md.
set -euo pipefail

usage() { echo "usage: $0 <release-dir> [--quick] [--only SECTIONS] [--impls KEYS]" >&2; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "bench: python3 is required" >&2; exit 1; }
harness="$here/bench/harness.py"

can_unshare() {
    [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
        unshare -m --propagation private true 2>/dev/null
}

if ! can_unshare; then
    echo "bench: not root or no unshare(1): running without a private /tekton" >&2
    exec "$python" "$harness" "$@"
fi

created_mountpoint=0
if [ ! -e /tekton ]; then
    mkdir /tekton
    created_mountpoint=1
fi
cleanup() {
    if [ "$created_mountpoint" = 1 ]; then
        rmdir /tekton 2>/dev/null || echo "bench: /tekton not empty, left in place" >&2
    fi
}
trap cleanup EXIT

status=0
unshare -m --propagation private -- sh -c '
    mount -t tmpfs -o mode=0755,size=64m stepkit-bench /tekton || exit 1
    exec "$0" "$@"
' "$python" "$harness" --tekton-ns "$@" || status=$?
exit "$status"
