#!/usr/bin/env bash
# The seed story, run locally as a TaskRun-shaped pod: no cluster, no registry, real binaries.
#
#   clone        the entrypoint runs stepkit's git-init with the catalog git-clone Task's flags
#                against a fixture repository served by `git daemon` on 127.0.0.1; git-init
#                writes the `commit` and `url` Task results itself (no shell, no git CLI).
#   show-commit  a script step reads the `commit` result and compares it with the fixture's HEAD.
#   push-creds   a non-root build step (uid 65532 when run as root) whose HOME is not writable,
#                with a basic-auth docker Secret: it still finds the credentials via DOCKER_CONFIG.
#
# The `prepare` and `place-scripts` init containers run first, then the three step entrypoints start
# at the same moment with the argv the Tekton controller generates (docs/contract.md §3.1) and hand
# off through post files; step 0 waits for the Downward-API `ready` file, which this script then
# "annotates". /tekton and /workspace live in one temporary directory (STEPKIT_TEKTON_DIR,
# STEPKIT_WORKSPACE_DIR). Prints what the controller would read (exit codes, post files, termination
# messages), then checks the story: exit 1 if any check fails. On exit every process the script
# started is stopped and the temporary directory removed.
#
# Usage: scripts/demo.sh <release-dir>   (needs bash, coreutils, git; setpriv when run as root)
set -euo pipefail
umask 022 # the pod's files must be readable by the non-root step

REL=${1:?usage: $0 <release-dir>}
REL=$(cd "$REL" && pwd)
for bin in entrypoint git-init; do
  [ -x "$REL/$bin" ] || { echo "demo: no $bin binary in $REL" >&2; exit 1; }
done
if ! command -v git >/dev/null || [ ! -x "$(git --exec-path)/git-daemon" ]; then
  echo "demo: needs git with git-daemon (it serves the fixture repository); install git" >&2
  exit 1
fi
STEP_USER=() # how step 2 is started: as uid 65532 when we are root (root could write any HOME)
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || { echo "demo: running as root needs setpriv (util-linux)" >&2; exit 1; }
  STEP_USER=(setpriv --reuid 65532 --regid 65532 --clear-groups)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stepkit-demo.XXXXXX")
PIDS=() DAEMON_PID=
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_daemon
  wait 2>/dev/null || true
  chmod -R u+w "$WORK" 2>/dev/null || true # the 0555 HOME
  rm -rf "$WORK"
}
stop_daemon() {
  # git daemon forks a child per connection: stop its whole process group (setsid made it its own).
  if [ -n "$DAEMON_PID" ]; then
    kill -- "-$DAEMON_PID" 2>/dev/null || kill "$DAEMON_PID" 2>/dev/null || true
  fi
  DAEMON_PID=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$WORK/tekton WS=$WORK/workspace SRV=$WORK/srv
export STEPKIT_TEKTON_DIR=$T STEPKIT_WORKSPACE_DIR=$WS
EP=$T/bin/entrypoint
REGISTRY=http://registry.invalid:5000
NONROOT_HOME=$WORK/home/nonroot
PORT= URL= FIXTURE_COMMIT=

section() { printf '\n=== %s ===\n' "$1"; }

# The pod's volumes, as the kubelet makes them.
make_volumes() {
  chmod 0755 "$WORK" # mktemp's 0700 would lock the non-root step out
  mkdir -p "$T"/{bin,scripts,results,steps,creds,home,downward} "$WS" "$WORK/logs" "$SRV"
  for i in 0 1 2; do
    mkdir -p "$T/run/$i"
    : > "$T/termination-$i" # each container's own /tekton/termination
  done
  # emptyDirs are 0777, termination files 0666.
  chmod 0777 "$T"/{results,creds,home} "$T"/run/* "$WS"
  chmod 0666 "$T"/termination-*
  # Downward API volume: ready -> ..data/ready, empty until the controller annotates the pod.
  mkdir "$T/downward/..2026_01"
  : > "$T/downward/..2026_01/ready"
  ln -s ..2026_01 "$T/downward/..data"
  ln -s ..data/ready "$T/downward/ready"
  # The ServiceAccount's kubernetes.io/basic-auth Secret (Secret volumes are 0644).
  mkdir -p "$T/creds-secrets/registry-auth"
  printf builder > "$T/creds-secrets/registry-auth/username"
  printf 'not-a-real-password' > "$T/creds-secrets/registry-auth/password"
  chmod 0644 "$T"/creds-secrets/registry-auth/*
  # The step image's HOME: root-owned like /home/nonroot when we are root, else read-only.
  if [ ${#STEP_USER[@]} -gt 0 ]; then
    mkdir -p -m 0755 "$NONROOT_HOME"
  else
    mkdir -p -m 0555 "$NONROOT_HOME"
  fi
}

# A one-commit repository; fixed identity and dates give the same commit id on every run.
make_fixture() {
  local repo=$WORK/fixture
  fixture_git() {
    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
      GIT_AUTHOR_NAME=Demo GIT_AUTHOR_EMAIL=demo@example.invalid GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
      GIT_COMMITTER_NAME=Demo GIT_COMMITTER_EMAIL=demo@example.invalid GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
      git "$@"
  }
  fixture_git init -q "$repo"
  fixture_git -C "$repo" symbolic-ref HEAD refs/heads/main
  printf 'app: the fixture of the stepkit demo\n' > "$repo/README.md"
  printf '#!/bin/sh\necho "hello from app"\n' > "$repo/build.sh"
  chmod +x "$repo/build.sh"
  fixture_git -C "$repo" add README.md build.sh
  fixture_git -C "$repo" commit -q -m 'app: first commit'
  fixture_git clone -q --bare "$repo" "$SRV/app.git"
  FIXTURE_COMMIT=$(git -C "$SRV/app.git" rev-parse HEAD)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + RANDOM % 40000))
}

# git daemon on a free port of 127.0.0.1, ready once `git ls-remote` answers.
serve_fixture() {
  local try
  for try in 1 2 3 4 5; do
    PORT=$(free_port) URL=git://127.0.0.1:$PORT/app.git
    setsid git daemon --listen=127.0.0.1 --port="$PORT" --export-all --base-path="$SRV" \
      --reuseaddr "$SRV" >>"$WORK/logs/daemon.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 50); do
      if git ls-remote "$URL" >/dev/null 2>&1; then return 0; fi
      kill -0 "$DAEMON_PID" 2>/dev/null || break # it exited: the port was taken, try another
      sleep 0.1
    done
    stop_daemon
  done
  echo "demo: git daemon did not come up after $try tries; its log:" >&2
  cat "$WORK/logs/daemon.log" >&2
  exit 1
}

init_prepare() {
  section "init container: prepare"
  "$REL/entrypoint" init "$REL/entrypoint" "$EP" step-clone step-show-commit step-push-creds
  ls -l "$T/steps" | sed 1d
}

# place-scripts: the controller writes each step's script base64-encoded, then decodes it.
# Paths in the scripts are substituted now, as the controller does for $(results.commit.path).
place_script() { # <path>; script on stdin
  touch "$1" && chmod +x "$1"
  base64 -w0 > "$1"
  "$EP" decode-script "$1"
  echo "--- $1"; cat "$1"
}

init_place_scripts() {
  section "init container: place-scripts"
  SHOW_COMMIT=$T/scripts/script-1-k4m2z
  place_script "$SHOW_COMMIT" <<EOF
#!/bin/sh
result=\$(cat $T/results/commit)
fixture=\$(git -C $SRV/app.git rev-parse HEAD)
echo "commit result:   \$result"
echo "fixture HEAD:    \$fixture"
echo "checked out:     \$(git -C $WS/source log -1 --format='%H %s')"
[ "\$result" = "\$fixture" ] || { echo "commit result differs from the fixture's HEAD" >&2; exit 1; }
EOF
  PUSH_CREDS=$T/scripts/script-2-p7wq9
  place_script "$PUSH_CREDS" <<EOF
#!/bin/sh
echo "uid \$(id -u), HOME=\$HOME (writable: \$([ -w "\$HOME" ] && echo yes || echo no))"
echo "DOCKER_CONFIG=\${DOCKER_CONFIG:-(unset)}"
cfg=\${DOCKER_CONFIG:-\$HOME/.docker}/config.json
[ -r "\$cfg" ] || { echo "no docker config at \$cfg" >&2; exit 1; }
# Names only: the file also holds the password and its base64 auth.
registries=\$(grep -o '"[^"]*":{' "\$cfg" | sed 's/^"//; s/":{\$//' | grep -vx auths)
echo "\$cfg: auths: \$registries"
echo "  fields: \$(grep -o '"[a-z]*":"' "\$cfg" | tr -d '":' | paste -sd ' ' -)"
echo "\$registries" | grep -qxF '$REGISTRY' || { echo "no auths entry for $REGISTRY" >&2; exit 1; }
EOF
}

common() { # <step index>: the arguments every step gets
  echo -post_file "$T/run/$1/out" -termination_path "$T/termination-$1" -step_metadata_dir "$T/run/$1/status"
}

start_steps() {
  section "steps: all three containers start now"
  # clone: the catalog git-clone Task's step, git-init run directly; HOME=$(params.userHome).
  # -terminationMessagePath: in a pod git-init's default /tekton/termination is this
  # container's file; here each container's file has its own name.
  # shellcheck disable=SC2046
  HOME=$T/home "$EP" -wait_file "$T/downward/ready" -wait_file_content $(common 0) \
    -timeout 1m0s -results commit,url -entrypoint "$REL/git-init" -- \
    -url="$URL" -revision=main -path="$WS/source" -sslVerify=true -submodules=true -depth=1 \
    -terminationMessagePath="$T/termination-0" \
    >"$WORK/logs/0.out" 2>"$WORK/logs/0.err" & PIDS+=("$!")
  # shellcheck disable=SC2046
  HOME=$T/home "$EP" -wait_file "$T/run/0/out" $(common 1) \
    -results commit,url -entrypoint "$SHOW_COMMIT" -- \
    >"$WORK/logs/1.out" 2>"$WORK/logs/1.err" & PIDS+=("$!")
  # push-creds: the controller gives every step the creds flags and its own /tekton/creds
  # volume; this pod has one /tekton/creds, so only the step that uses them gets them.
  # shellcheck disable=SC2046
  HOME=$NONROOT_HOME "${STEP_USER[@]}" "$EP" -wait_file "$T/run/1/out" $(common 2) \
    -basic-docker="registry-auth=$REGISTRY" -results commit,url -entrypoint "$PUSH_CREDS" -- \
    >"$WORK/logs/2.out" 2>"$WORK/logs/2.err" & PIDS+=("$!")

  sleep 0.5
  echo "post files before the pod is ready: $(cd "$T/run" && find . -name 'out*' ! -name '*.lock' | sort | tr '\n' ' ')(none expected)"
}

annotate_ready() {
  section "controller: annotate tekton.dev/ready=READY (kubelet swaps ..data)"
  mkdir "$T/downward/..2026_02"
  printf READY > "$T/downward/..2026_02/ready"
  ln -s ..2026_02 "$T/downward/..data_tmp"
  mv -T "$T/downward/..data_tmp" "$T/downward/..data"
}

CODES=()
wait_steps() {
  local pid
  for pid in "${PIDS[@]}"; do
    if wait "$pid"; then CODES+=(0); else CODES+=("$?"); fi
  done
  PIDS=()
  stop_daemon
}

report_steps() {
  local names=(clone show-commit push-creds) i post f
  for i in 0 1 2; do
    section "step-${names[$i]} (container exit code ${CODES[$i]})"
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
    if [ "$i" = 0 ]; then echo "(git-init's own entries first, then the entrypoint's: -results as type 1, StartedAt type 3)"; fi
  done
  section "task results (/tekton/results, written by git-init)"
  for f in "$T"/results/*; do
    if [ -e "$f" ]; then echo "$(basename "$f"): $(cat "$f")"; fi
  done
}

FAILED=0
check() { # <what it shows> <command...>
  local what=$1; shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; FAILED=$((FAILED + 1)); fi
}

summarize() {
  local result warnings
  result=$(cat "$T/results/commit" 2>/dev/null || true)
  warnings=$(grep -c 'unsuccessful cred copy' "$WORK/logs/2.err" || true)
  section "what this shows"
  check "clone: git-init cloned $URL (exit ${CODES[0]})" [ "${CODES[0]}" = 0 ]
  check "clone: its commit result ${result:-(none)} equals the fixture's commit $FIXTURE_COMMIT" \
    [ "$result" = "$FIXTURE_COMMIT" ]
  check "clone: the termination message carries the commit result" \
    grep -qF "\"key\":\"commit\",\"value\":\"$FIXTURE_COMMIT\",\"type\":1" "$T/termination-0"
  check "show-commit: the next step read the same commit from the result file (exit ${CODES[1]})" \
    [ "${CODES[1]}" = 0 ]
  check "push-creds: uid $([ ${#STEP_USER[@]} -gt 0 ] && echo 65532 || id -u) with an unwritable HOME found the $REGISTRY credentials via DOCKER_CONFIG (exit ${CODES[2]})" \
    [ "${CODES[2]}" = 0 ]
  check "push-creds: the entrypoint said why, in one warning (got $warnings)" [ "$warnings" = 1 ]
  echo "      (upstream's entrypoint would only warn \`unsuccessful cred copy\` for each file and"
  echo "      leave the step without credentials)"
  if [ "$FAILED" -gt 0 ]; then
    echo "demo FAILED: $FAILED check(s)" >&2
    exit 1
  fi
}

section "fixture repository, served by git daemon"
make_volumes
make_fixture
serve_fixture
echo "$URL  main = $FIXTURE_COMMIT"
init_prepare
init_place_scripts
start_steps
annotate_ready
wait_steps
report_steps
summarize
