#!/usr/bin/env bash
# Runs a TaskRun-shaped pod locally, without a cluster: the `prepare` and `place-scripts` init
# containers, then three step containers started at the same moment, exactly with the argv the
# Tekton controller generates (spec §4.4). Step 0 waits for the Downward-API `ready` file, which
# this script then "annotates"; step 0 writes a task result, step 1 fails, step 2 is skipped.
# Prints what the controller would read: post files, exitCode files, termination messages.
#
# Usage: scripts/demo.sh <release-dir>   (needs only bash, coreutils and the built binaries)
set -euo pipefail

REL=${1:?usage: $0 <release-dir>}
REL=$(cd "$REL" && pwd)
[ -x "$REL/entrypoint" ] || { echo "no entrypoint binary in $REL" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stepkit-demo.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

T=$WORK/tekton
export STEPKIT_TEKTON_DIR=$T STEPKIT_WORKSPACE_DIR=$WORK/workspace
# The pod's emptyDir volumes.
mkdir -p "$T"/{bin,scripts,results,artifacts,steps,creds,home,downward} "$WORK/workspace" "$WORK/logs"
for i in 0 1 2; do mkdir -p "$T/run/$i"; done
# Downward API volume: ready -> ..data/ready, empty until the controller annotates the pod.
mkdir "$T/downward/..2026_01"
: > "$T/downward/..2026_01/ready"
ln -s ..2026_01 "$T/downward/..data"
ln -s ..data/ready "$T/downward/ready"

section() { printf '\n=== %s ===\n' "$1"; }

section "init container: prepare"
"$REL/entrypoint" init "$REL/entrypoint" "$T/bin/entrypoint" step-clone step-test step-publish
ls -l "$T/steps" | sed 1d

section "init container: place-scripts"
script=$T/scripts/script-0-9l9zj
touch "$script" && chmod +x "$script"
base64 -w0 > "$script" <<EOF
#!/bin/sh
set -e
echo "cloning https://github.com/org/repo"
printf sha256:abc > $T/results/digest
EOF
"$T/bin/entrypoint" decode-script "$script"
cat "$script"

EP=$T/bin/entrypoint
common() { # <step index>
  echo -post_file "$T/run/$1/out" -termination_path "$T/termination-$1" -step_metadata_dir "$T/run/$1/status"
}

section "steps: all three containers start now"
# shellcheck disable=SC2046
HOME=$WORK/home0 "$EP" -wait_file "$T/downward/ready" -wait_file_content $(common 0) \
  -timeout 5m0s -results digest -entrypoint "$script" -- \
  >"$WORK/logs/0.out" 2>"$WORK/logs/0.err" & PIDS+=($!)
# shellcheck disable=SC2046
HOME=$WORK/home1 "$EP" -wait_file "$T/run/0/out" $(common 1) \
  -stdout_path "$WORK/workspace/test.log" -results digest -entrypoint sh -- -c 'echo "running tests"; echo "FAIL: TestPublish" >&2; exit 1' \
  >"$WORK/logs/1.out" 2>"$WORK/logs/1.err" & PIDS+=($!)
# shellcheck disable=SC2046
HOME=$WORK/home2 TEKTON_PLATFORM_COMMANDS='{"linux/amd64":["echo","publishing"],"linux/arm64":["echo","publishing"],"linux":["echo","publishing"]}' \
  "$EP" -wait_file "$T/run/1/out" $(common 2) -results digest -- --push \
  >"$WORK/logs/2.out" 2>"$WORK/logs/2.err" & PIDS+=($!)

sleep 0.5
echo "post files before the pod is ready: $(cd "$T/run" && find . -name 'out*' ! -name '*.lock' | sort | tr '\n' ' ')(none expected)"

section "controller: annotate tekton.dev/ready=READY (kubelet swaps ..data)"
mkdir "$T/downward/..2026_02"
printf READY > "$T/downward/..2026_02/ready"
ln -s ..2026_02 "$T/downward/..data_tmp"
mv -T "$T/downward/..data_tmp" "$T/downward/..data"

codes=()
for i in 0 1 2; do
  if wait "${PIDS[$i]}"; then codes+=(0); else codes+=($?); fi
done
PIDS=()

names=(clone test publish)
for i in 0 1 2; do
  section "step-${names[$i]} (container exit code ${codes[$i]})"
  echo "--- stdout"; cat "$WORK/logs/$i.out"
  echo "--- stderr"; cat "$WORK/logs/$i.err"
  post=none
  [ -e "$T/run/$i/out" ] && post=out
  [ -e "$T/run/$i/out.err" ] && post=out.err
  echo "--- post file: /tekton/run/$i/$post"
  if [ -e "$T/run/$i/status/exitCode" ]; then
    echo "--- exitCode: $(cat "$T/run/$i/status/exitCode")"
  else
    echo "--- exitCode: (not written)"
  fi
  echo "--- termination message (state.terminated.message):"
  cat "$T/termination-$i"; echo
done

section "tee'd log of step-test (-stdout_path)"
cat "$WORK/workspace/test.log"
