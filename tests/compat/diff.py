#!/usr/bin/env python3
"""Differential black-box harness: our Rust `entrypoint` against upstream Tekton's Go binary.

Every scenario runs once per binary inside a private mount namespace with fresh tmpfs mounts on
/tekton and /workspace (so both binaries see the real hard-coded paths), then the observable
effects are normalised and compared: exit code, child stdout, stderr (Go log timestamps masked),
every file/dir/symlink created under /tekton and /workspace (type, mode, content), and the
termination message (StartedAt masked after its format was checked; `tknz:` decoded).

Needs root (mount namespaces). Usage:
    python3 tests/compat/diff.py --ours BIN --upstream BIN [--only SUBSTR] [--strict] [-v]
"""

import argparse
import base64
import difflib
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib

ROOTS = ["/tekton", "/workspace"]
ARGV0 = "entrypoint"
STARTED_AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
LOG_TS_RE = re.compile(rb"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", re.M)
TMP_SCRIPT_RE = re.compile(r"script-\d+")
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tekton/home",
    "TMPDIR": "/workspace/tmp",
}
SH = "/bin/sh"
T = "/tekton"


# ---------------------------------------------------------------------------------------------
# Scenario definitions


class S:
    def __init__(self, name, argv, env=None, setup=(), actions=(), unset=(), limit=20, sigign=()):
        self.name = name
        self.sigign = list(sigign)
        self.argv = list(argv)
        self.env = dict(env or {})
        self.unset = list(unset)
        self.setup = list(setup)
        self.actions = list(actions)
        self.limit = limit

    def to_json(self):
        return {
            "name": self.name,
            "argv": self.argv,
            "env": self.env,
            "unset": self.unset,
            "setup": self.setup,
            "actions": self.actions,
            "limit": self.limit,
            "sigign": self.sigign,
        }


def f(path, content="", mode=0o644):
    """Setup: a file (content str or bytes given as {'b64': ...})."""
    if isinstance(content, bytes):
        content = {"b64": base64.b64encode(content).decode()}
    return ["file", path, content, mode]


def d(path, mode=0o755):
    return ["dir", path, mode]


def ln(path, target):
    return ["symlink", path, target]


def after(secs, *op):
    return [secs] + list(op)


# Timed actions also wait for a state of the entrypoint, so that a loaded machine (fork/exec
# taking most of a second) cannot turn "a signal while the step runs" into "a signal before the
# step started" on one side only. The delay stays a minimum.
def while_running(secs, *op):
    """After `secs`, once the step's `sleep` is running (the signal handling is set up by then)."""
    return [secs] + list(op) + [{"when": "child:sleep"}]


def while_waiting(secs, *op):
    """After `secs`, once the entrypoint is blocked waiting (no child, every thread asleep)."""
    return [secs] + list(op) + [{"when": "idle"}]


READY = [f(T + "/downward/ready", "READY")]
PLATFORM = {"TEKTON_PLATFORM_COMMANDS": json.dumps({"linux/amd64": ["/bin/sh", "-c", "echo platform $0 $@"], "linux/arm64": ["/bin/sh"]})}


def step(i, extra=(), cmd=(SH, "-c", "echo hello"), wait=True, entry=True):
    a = []
    if wait:
        if i == 0:
            a += ["-wait_file", T + "/downward/ready", "-wait_file_content"]
        else:
            a += ["-wait_file", "%s/run/%d/out" % (T, i - 1)]
    a += ["-post_file", "%s/run/%d/out" % (T, i), "-termination_path", T + "/termination",
          "-step_metadata_dir", "%s/run/%d/status" % (T, i)]
    a += list(extra)
    if entry and cmd:
        a += ["-entrypoint", cmd[0], "--"] + list(cmd[1:])
    elif cmd:
        a += ["--"] + list(cmd)
    return a


def sh(script, i=0, extra=(), **kw):
    return step(i, extra, (SH, "-c", script), **kw)


def creds_setup():
    return [
        f(T + "/creds-secrets/gitc/username", "user"),
        f(T + "/creds-secrets/gitc/password", "p@ss:w/rd"),
        f(T + "/creds-secrets/bs/username", "dock\\er"),
        f(T + "/creds-secrets/bs/password", "pw"),
        f(T + "/creds-secrets/sshk/ssh-privatekey", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"),
        f(T + "/creds-secrets/sshk/known_hosts", "github.com ssh-rsa AAAA"),
        f(T + "/creds-secrets/sshk2/ssh-privatekey", "KEY2\n"),
        f(T + "/creds-secrets/regcred/.dockerconfigjson",
          '{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p","auth":"dTpw","identitytoken":"x"}}}'),
        f(T + "/creds-secrets/oldcfg/.dockercfg", '{"https://old.io":{"username":"o","password":"q","auth":"bzpx","email":"e@x"}}'),
    ]


def scenarios():
    L = []
    add = L.append

    # ---- matrix (docs/contract.md §3.12) -----------------------------------------------------
    add(S("matrix/success", sh("echo out; echo err >&2"), setup=READY))
    add(S("matrix/exit3", sh("exit 3"), setup=READY))
    add(S("matrix/exit3-continue", sh("exit 3", extra=["-on_error", "continue"]), setup=READY))
    add(S("matrix/exit3-stopAndFail", sh("exit 3", extra=["-on_error", "stopAndFail"]), setup=READY))
    add(S("matrix/exit0-continue", sh("exit 0", extra=["-on_error", "continue"]), setup=READY))
    add(S("matrix/signal", sh("kill -9 $$"), setup=READY))
    add(S("matrix/signal-term", sh("kill -TERM $$"), setup=READY))
    add(S("matrix/signal-continue", sh("kill -9 $$", extra=["-on_error", "continue"]), setup=READY))
    add(S("matrix/not-found", step(0, cmd=("/nonexistent/cmd", "a")), setup=READY))
    add(S("matrix/not-found-path", step(0, cmd=("no-such-command-xyz",)), setup=READY))
    add(S("matrix/not-executable", step(0, cmd=("/workspace/noexec",)), setup=READY + [f("/workspace/noexec", "#!/bin/sh\n", 0o644)]))
    add(S("matrix/is-directory", step(0, cmd=("/workspace",)), setup=READY))
    add(S("matrix/not-found-continue", step(0, ["-on_error", "continue"], cmd=("/nonexistent",)), setup=READY))
    add(S("matrix/prev-failed", sh("echo ran", i=1), setup=[f(T + "/run/0/out.err")]))
    add(S("matrix/prev-failed-both-exist", sh("echo ran", i=1), setup=[f(T + "/run/0/out.err"), f(T + "/run/0/out")]))
    add(S("matrix/prev-failed-breakpoint", sh("echo ran", i=1, extra=["-breakpoint_on_failure"]), setup=[f(T + "/run/0/out.err")]))
    add(S("matrix/prev-ok", sh("echo ran", i=1), setup=[f(T + "/run/0/out")]))
    add(S("matrix/wait-stat-error", sh("echo ran", extra=["-wait_file", "/workspace/file/sub"]),
          setup=READY + [f("/workspace/file", "x")]))
    add(S("matrix/wait-late-file", sh("echo ran", i=1), actions=[while_waiting(1.2, "file", T + "/run/0/out", "")]))
    add(S("matrix/wait-content-late", sh("echo ran"), setup=[f(T + "/downward/ready", "")],
          actions=[while_waiting(1.2, "file", T + "/downward/ready", "READY")]))
    add(S("matrix/wait-err-late", sh("echo ran", i=1), actions=[while_waiting(1.2, "file", T + "/run/0/out.err", "")]))
    add(S("matrix/wait-multi", sh("echo ran", wait=False, extra=["-wait_file", "/workspace/a,/workspace/b"]),
          setup=[f("/workspace/a"), f("/workspace/b")]))
    add(S("matrix/wait-multi-empty-elem", sh("echo ran", wait=False, extra=["-wait_file", ",/workspace/a,"]),
          setup=[f("/workspace/a")]))
    add(S("matrix/timeout", sh("sleep 5", extra=["-timeout", "1s"]), setup=READY))
    add(S("matrix/timeout-continue", sh("sleep 5", extra=["-timeout", "1s", "-on_error", "continue"]), setup=READY))
    add(S("matrix/timeout-not-reached", sh("exit 0", extra=["-timeout", "5s"]), setup=READY))
    add(S("matrix/timeout-0s", sh("echo t0", extra=["-timeout", "0s"]), setup=READY))
    add(S("matrix/timeout-0", sh("echo t0", extra=["-timeout", "0"]), setup=READY))
    add(S("matrix/negative-timeout", sh("echo no", extra=["-timeout", "-1s"]), setup=READY))
    add(S("matrix/cancel", sh("sleep 6"), setup=READY,
          actions=[while_running(1.0, "file", T + "/downward/cancel", "CANCEL")]))
    add(S("matrix/cancel-empty-file", sh("sleep 2; echo done"), setup=READY + [f(T + "/downward/cancel", "")]))
    add(S("matrix/cancel-present-at-start", sh("sleep 5"), setup=READY + [f(T + "/downward/cancel", "CANCEL")]))
    add(S("matrix/cancel-continue", sh("sleep 6", extra=["-on_error", "continue"]), setup=READY,
          actions=[while_running(1.0, "file", T + "/downward/cancel", "CANCEL")]))
    add(S("matrix/when-false", sh("echo no", extra=["--when_expressions", '[{"input":"a","operator":"in","values":["b"]}]']), setup=READY))
    add(S("matrix/when-true", sh("echo yes", extra=["--when_expressions", '[{"input":"a","operator":"in","values":["a"]}]']), setup=READY))
    add(S("matrix/when-cel-error", sh("echo no", extra=["--when_expressions", '[{"cel":"foo==foo"}]']), setup=READY))
    add(S("matrix/when-false-results", sh("echo no", extra=["-results", "r", "--when_expressions", '[{"input":"a","operator":"in","values":["b"]}]']),
          setup=READY + [f(T + "/results/r", "v")]))
    add(S("matrix/debug-before-step-fail", sh("echo no", extra=["-debug_before_step"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.beforestepexit.err", "1\n")]))
    add(S("matrix/debug-before-step-continue", sh("echo yes", extra=["-debug_before_step"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.beforestepexit", "0\n")]))
    add(S("matrix/breakpoint-failure-exit", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit", "7\n")]))
    add(S("matrix/breakpoint-failure-garbage", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit", "x\n")]))
    add(S("matrix/breakpoint-failure-two-newlines", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit", "3\n\n")]))
    add(S("matrix/breakpoint-failure-errfile", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit.err", "")]))
    # The debug scripts do `echo "1" > out.breakpointexit`: the file exists (empty) a moment before it has content.
    add(S("matrix/breakpoint-create-then-write", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit", ""), while_waiting(1.25, "file", T + "/run/0/out.breakpointexit", "1\n")]))
    add(S("matrix/breakpoint-debug-fail-continue-script", sh("exit 4", extra=["-breakpoint_on_failure"]), setup=READY,
          actions=[while_waiting(1.2, "sh", 'touch /tekton/run/0/out.err; echo "1" > /tekton/run/0/out.breakpointexit')]))
    add(S("matrix/breakpoint-notfound", step(0, ["-breakpoint_on_failure"], cmd=("/nonexistent",)), setup=READY,
          actions=[while_waiting(1.2, "file", T + "/run/0/out.breakpointexit", "5")]))
    add(S("matrix/breakpoint-success", sh("exit 0", extra=["-breakpoint_on_failure"]), setup=READY))
    add(S("matrix/breakpoint-timeout", sh("sleep 4", extra=["-breakpoint_on_failure", "-timeout", "500ms"]), setup=READY))
    add(S("matrix/results-too-large", sh("head -c 5000 /dev/zero | tr '\\0' a > /tekton/results/big", extra=["-results", "big"]), setup=READY))
    add(S("matrix/empty-command", step(0, cmd=()), env={"TEKTON_PLATFORM_COMMANDS": '{"linux/amd64":[]}'}, setup=READY))
    add(S("matrix/sigterm-while-running", sh("sleep 4; echo done"), setup=READY, actions=[while_running(1.0, "signal", "TERM")]))
    add(S("matrix/sigterm-handled", sh("trap 'echo got; exit 42' TERM; sleep 4 & wait"), setup=READY,
          actions=[while_running(1.0, "signal", "TERM")]))
    add(S("matrix/sigint-while-running", sh("sleep 4"), setup=READY, actions=[while_running(1.0, "signal", "INT")]))
    add(S("matrix/sigint-ignored-at-start", sh("sleep 3; echo done"), setup=READY, actions=[while_running(1.0, "signal", "INT")],
          sigign=["INT"]))
    add(S("matrix/sigint-ignored-child-disposition", sh("grep SigIgn /proc/self/status"), setup=READY, sigign=["INT", "QUIT", "HUP"]))
    add(S("matrix/child-sig-dispositions", sh("grep -E 'Sig(Ign|Blk)' /proc/self/status"), setup=READY))
    add(S("matrix/sigusr1-forwarded", sh("trap 'echo usr1; exit 7' USR1; sleep 3 & wait"), setup=READY,
          actions=[while_running(1.0, "signal", "USR1")]))
    add(S("matrix/sighup-forwarded", sh("sleep 3"), setup=READY, actions=[while_running(1.0, "signal", "HUP")]))
    add(S("matrix/sigterm-while-waiting", sh("echo ran", i=1), actions=[while_waiting(1.0, "signal", "TERM")]))
    add(S("matrix/stdin-devnull", sh("cat; echo rc=$?"), setup=READY))
    add(S("matrix/pgid", sh("ps -o pid=,pgid= -p $$ | awk '{print ($1==$2)?\"own-group\":\"shared\"}'"), setup=READY))
    add(S("matrix/no-smd", ["-post_file", "/workspace/pf", "-termination_path", "/workspace/term", "-entrypoint", SH, "--", "-c", "pwd"]))
    add(S("matrix/no-post-file-fail", ["-termination_path", T + "/termination", "-step_metadata_dir", T + "/run/0/status",
                                       "-entrypoint", SH, "--", "-c", "exit 2"]))
    add(S("matrix/post-file-unwritable", sh("echo hi", extra=["-post_file", "/workspace/file/x"]), setup=READY + [f("/workspace/file", "x")]))
    add(S("matrix/smd-unwritable", sh("echo hi", extra=["-step_metadata_dir", "/workspace/file/x"]), setup=READY + [f("/workspace/file", "x")]))
    add(S("matrix/termination-unwritable", sh("echo hi", extra=["-termination_path", "/workspace/file/x"]), setup=READY + [f("/workspace/file", "x")]))
    add(S("matrix/termination-is-dir", sh("echo hi", extra=["-termination_path", "/workspace"]), setup=READY))
    add(S("matrix/default-termination-path", ["-post_file", T + "/run/0/out", "-step_metadata_dir", T + "/run/0/status",
                                              "-entrypoint", "/bin/echo", "--", "x"]))
    add(S("matrix/relative-paths", ["-post_file", "rel/out", "-step_metadata_dir", "relsmd", "-termination_path", "term",
                                    "-stdout_path", "logs/o", "-entrypoint", "/bin/echo", "--", "x"]))
    add(S("matrix/timeout-1ns", sh("echo no", extra=["-timeout", "1ns"]), setup=READY))
    add(S("matrix/exit255", sh("exit 255"), setup=READY))
    add(S("matrix/exit255-continue", sh("exit 255", extra=["-on_error", "continue"]), setup=READY))
    add(S("matrix/cancel-while-waiting", sh("echo ran", i=1), setup=[f(T + "/downward/cancel", "CANCEL")],
          actions=[while_waiting(1.2, "file", T + "/run/0/out", "")]))
    add(S("matrix/wait-file-is-dir-content", sh("echo ran", wait=False, extra=["-wait_file", "/workspace/dir", "-wait_file_content"]),
          setup=[d("/workspace/dir")], limit=4))
    add(S("matrix/wait-symlink-dangling", sh("echo ran", wait=False, extra=["-wait_file", "/workspace/l"]),
          setup=[ln("/workspace/l", "/workspace/target")], actions=[while_waiting(1.2, "file", "/workspace/target", "")]))
    add(S("matrix/background-grandchild-timeout", sh("sleep 8 & sleep 8", extra=["-timeout", "1s"]), setup=READY, limit=15))
    add(S("matrix/background-grandchild-tee-timeout", sh("sleep 6 & sleep 6", extra=["-timeout", "1s", "-stdout_path", "/workspace/o"]),
          setup=READY, limit=15))
    add(S("matrix/background-grandchild-success", sh("(sleep 2; echo late) & echo early"), setup=READY, limit=10))
    add(S("matrix/big-output-tee", sh("seq 1 200000", extra=["-stdout_path", "/workspace/o"]), setup=READY))
    add(S("matrix/hermetic-resource-name", sh("echo h"), env={"TEKTON_HERMETIC": "1", "TEKTON_RESOURCE_NAME": "x"}, setup=READY))
    add(S("matrix/env-passthrough", sh("echo $FOO; echo $HOME"), env={"FOO": "bar"}, setup=READY))
    add(S("matrix/hermetic", sh("echo hermetic; cat /proc/self/status | grep -c NSpid; echo $$"), env={"TEKTON_HERMETIC": "1"}, setup=READY))

    # ---- flag parsing ------------------------------------------------------------------------
    add(S("flags/unknown", ["-nope"]))
    add(S("flags/unknown-double", ["--nope=1", "--", "x"]))
    add(S("flags/h", ["-h"]))
    add(S("flags/help", ["-help"]))
    add(S("flags/dashdash-help", ["--help"]))
    add(S("flags/h-after-flags", ["-post_file", "/workspace/x", "-h"]))
    add(S("flags/double-dash-form", ["--post_file", T + "/run/0/out", "--entrypoint=/bin/echo", "--", "dd"]))
    add(S("flags/eq-form", ["-post_file=" + T + "/run/0/out", "-entrypoint=/bin/echo", "--", "eq"]))
    add(S("flags/value-starts-dash", ["-post_file", "-weird", "-entrypoint", "/bin/echo", "--", "x"]))
    add(S("flags/value-is-dashdash", ["-entrypoint", "--", "x"], env=PLATFORM))
    add(S("flags/missing-value", ["-post_file"]))
    add(S("flags/missing-value-timeout", ["-timeout"]))
    add(S("flags/bool-false-eq", ["-wait_file_content=false", "-wait_file", "/workspace/e", "-entrypoint", "/bin/echo", "--", "b"],
          setup=[f("/workspace/e", "")]))
    add(S("flags/bool-false-space", ["-wait_file_content", "false", "-wait_file", "/workspace/e", "-entrypoint", "/bin/echo", "--", "b"],
          env=PLATFORM, setup=[f("/workspace/e", "")]))
    add(S("flags/bool-bad", ["-wait_file_content=maybe"]))
    add(S("flags/bool-T", ["-wait_file_content=T", "-entrypoint", "/bin/echo", "--", "T"]))
    add(S("flags/bool-empty", ["-wait_file_content="]))
    add(S("flags/bad-duration", ["-timeout", "5"]))
    add(S("flags/bad-duration-word", ["-timeout=abc"]))
    add(S("flags/duration-forms", ["-timeout", "1h30m0.5s", "-entrypoint", "/bin/echo", "--", "d"]))
    add(S("flags/duration-micro", ["-timeout", "1000000µs", "-entrypoint", "/bin/echo", "--", "d"]))
    add(S("flags/duration-plus", ["-timeout", "+2s", "-entrypoint", "/bin/echo", "--", "d"]))
    add(S("flags/duration-overflow", ["-timeout", "9999999999h"]))
    add(S("flags/bad-syntax-triple", ["---post_file", "x"]))
    add(S("flags/bad-syntax-eq", ["-=x"]))
    add(S("flags/single-dash", ["-", "-entrypoint", "/bin/echo"], env=PLATFORM))
    add(S("flags/repeat-last-wins", ["-entrypoint", "/bin/false", "-entrypoint", "/bin/echo", "--", "last"]))
    add(S("flags/dashdash-index0", ["--", "echo", "hi"], env=PLATFORM))
    add(S("flags/dashdash-index0-init", ["--", "init", "/workspace/src", T + "/bin/entrypoint", "a"], setup=[f("/workspace/src", "BIN")]))
    add(S("flags/positional-no-dashdash", ["-entrypoint", "/bin/echo", "extra", "args"]))
    add(S("flags/positional-then-flag", ["-entrypoint", "/bin/echo", "pos", "-post_file", "/workspace/pf", "--", "x"]))
    add(S("flags/second-dashdash-kept", ["-entrypoint", "/bin/echo", "--", "a", "--", "b"]))
    add(S("flags/empty-argv", [], env=PLATFORM))
    add(S("flags/empty-argv-no-platform", []))
    add(S("flags/dont_send_results", ["-dont_send_results_to_termination_path"]))
    add(S("flags/enable_spire", sh("echo x", extra=["-enable_spire"]), setup=READY))
    add(S("flags/enable_spire-false", sh("echo x", extra=["-enable_spire=false"]), setup=READY))
    add(S("flags/spire_socket_path", sh("echo x", extra=["-spire_socket_path", "x"]), setup=READY))
    add(S("flags/all-head-flags", sh("echo all; echo err >&2", extra=[
        "-results", "r", "-step_results", "sr", "-on_error", "continue", "-timeout", "10s",
        "-stdout_path", "/workspace/o.log", "-stderr_path", "/workspace/e.log", "-result_from", "termination-message",
        "-compress_termination_message=false", "-breakpoint_on_failure=false", "-debug_before_step=false",
        "--when_expressions", "[]"]), setup=READY))
    add(S("flags/on_error-bogus", sh("exit 5", extra=["-on_error", "bogus"]), setup=READY))
    add(S("flags/uint-like-int", ["-timeout", "1s", "-wait_file_content=1", "-entrypoint", "/bin/echo", "--", "ok"]))

    # ---- the controller's exact argv (docs/contract.md §3.1) ---------------------------------
    script0 = T + "/scripts/script-0-9l9zj"
    b64 = "IyEvYmluL3NoCnNldCAtZQpnaXQgY2xvbmUgaHR0cHM6Ly9naXRodWIuY29tL29yZy9yZXBvIC93b3Jrc3BhY2Uvc3JjCnByaW50ZiBzaGEyNTY6YWJjID4gL3Rla3Rvbi9yZXN1bHRzL2RpZ2VzdAo="
    clone_script = "#!/bin/sh\nset -e\necho cloning\nprintf sha256:abc > /tekton/results/digest\n"
    common_creds = [f(T + "/creds-secrets/git-creds/username", "git-user"), f(T + "/creds-secrets/git-creds/password", "git-pass"),
                    f(T + "/creds-secrets/regcred/.dockerconfigjson", '{"auths":{"https://reg.io":{"username":"r","password":"s","auth":"cjpz"}}}')]
    add(S("spec44/step-clone", ["-wait_file", "/tekton/downward/ready", "-wait_file_content",
                                "-post_file", "/tekton/run/0/out", "-termination_path", "/tekton/termination",
                                "-step_metadata_dir", "/tekton/run/0/status",
                                "-basic-git=git-creds=https://github.com", "-docker-config=regcred",
                                "-timeout", "5m0s", "-results", "digest",
                                "-entrypoint", script0, "--"],
          setup=READY + common_creds + [f(script0, clone_script, 0o755)]))
    add(S("spec44/place-script-decode", ["decode-script", script0], setup=[f(script0, b64 + "\n", 0o755)]))
    add(S("spec44/step-test", ["-wait_file", "/tekton/run/0/out",
                               "-post_file", "/tekton/run/1/out", "-termination_path", "/tekton/termination",
                               "-step_metadata_dir", "/tekton/run/1/status",
                               "-basic-git=git-creds=https://github.com", "-docker-config=regcred",
                               "-on_error", "continue", "-stdout_path", "/workspace/test.log",
                               "-step_results", "report", "-results", "digest",
                               "-entrypoint", SH, "--", "-c", "echo testing; printf https://r > /tekton/run/1/status/results/report; exit 1"],
          setup=common_creds + [f(T + "/run/0/out"), f(T + "/results/digest", "sha256:abc"),
                                f(T + "/termination", '[{"key":"old","value":"x","type":1}]')]))
    add(S("spec44/step-publish", ["-wait_file", "/tekton/run/1/out",
                                  "-post_file", "/tekton/run/2/out", "-termination_path", "/tekton/termination",
                                  "-step_metadata_dir", "/tekton/run/2/status",
                                  "-basic-git=git-creds=https://github.com", "-docker-config=regcred",
                                  "-results", "digest", "--", "--push"],
          env={"TEKTON_PLATFORM_COMMANDS": json.dumps({"linux/amd64": ["/bin/echo", "publisher"], "linux/arm64": ["/bin/echo"]})},
          setup=common_creds + [f(T + "/run/1/out")]))
    add(S("spec44/v0.37.2-shape", ["-wait_file", "/tekton/downward/ready", "-wait_file_content",
                                   "-post_file", "/tekton/run/0/out", "-termination_path", "/tekton/termination",
                                   "-step_metadata_dir", "/tekton/run/0/status",
                                   "-timeout", "1m0s", "-on_error", "stopAndFail", "-results", "a,b",
                                   "-entrypoint", SH, "--", "-c", "printf A > /tekton/results/a"], setup=READY))
    add(S("spec44/compressed-variant", sh("echo c", extra=["-compress_termination_message=true", "-results", "digest"]),
          setup=READY + [f(T + "/results/digest", "x" * 300)]))
    add(S("spec44/sidecar-logs-variant", sh("echo c", extra=["-result_from", "sidecar-logs", "-results", "digest", "-step_results", "s"]),
          setup=READY + [f(T + "/results/digest", "d"), f(T + "/run/0/status/results/s", "s"),
                         f(T + "/run/0/status/artifacts/provenance.json", "{}"), f(T + "/artifacts/provenance.json", "{}")]))
    add(S("spec44/results-empty-string", sh("echo c", extra=["-results", ""]), setup=READY))

    # ---- subcommands -------------------------------------------------------------------------
    add(S("sub/init", ["init", "/workspace/src", T + "/bin/entrypoint", "step-a", "step-unnamed-1"], setup=[f("/workspace/src", "BINARY")]))
    add(S("sub/init-no-names", ["init", "/workspace/src", T + "/bin/entrypoint"], setup=[f("/workspace/src", "BINARY")]))
    add(S("sub/init-arity2", ["init", "/workspace/src"], env=PLATFORM))
    add(S("sub/init-idempotent", ["init", "/workspace/src", T + "/bin/entrypoint", "step-a"],
          setup=[f("/workspace/src", "BINARY"), d(T + "/steps", 0o777), ln(T + "/steps/step-a", T + "/run/0/status"),
                 ln(T + "/steps/0", T + "/run/0/status")]))
    add(S("sub/init-missing-src", ["init", "/workspace/nope", T + "/bin/entrypoint", "a"]))
    add(S("sub/cp", ["cp", "/workspace/src", "/workspace/dst"], setup=[f("/workspace/src", "short")]))
    add(S("sub/cp-no-truncate", ["cp", "/workspace/src", "/workspace/dst"],
          setup=[f("/workspace/src", "short"), f("/workspace/dst", "a much longer existing content", 0o600)]))
    add(S("sub/cp-missing", ["cp", "/workspace/nope", "/workspace/dst"]))
    add(S("sub/cp-dir-src", ["cp", "/workspace", "/workspace/dst"]))
    add(S("sub/cp-dst-dir-missing", ["cp", "/workspace/src", "/workspace/no/dst"], setup=[f("/workspace/src", "x")]))
    add(S("sub/cp-arity2", ["cp", "/workspace/src"], env=PLATFORM))
    add(S("sub/cp-arity4", ["cp", "a", "b", "c"], env=PLATFORM))
    add(S("sub/cp-after-flags", ["-post_file", "/workspace/pf", "cp", "/workspace/src", "/workspace/dst"], setup=[f("/workspace/src", "x")]))
    add(S("sub/decode", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=\n", 0o600)]))
    add(S("sub/decode-crlf", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "IyEvdXNy\r\nL2Jpbi9l\r\nbnYgc2gK\r\n", 0o751)]))
    add(S("sub/decode-invalid", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "!!!!", 0o600)]))
    add(S("sub/decode-invalid-mid", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "IyEv dXNy", 0o600)]))
    add(S("sub/decode-nopad", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "IyE", 0o600)]))
    add(S("sub/decode-urlsafe", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "ab-_", 0o600)]))
    add(S("sub/decode-trailing-garbage", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "YQ==YQ==", 0o600)]))
    add(S("sub/decode-empty", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "", 0o600)]))
    add(S("sub/decode-missing", ["decode-script", "/workspace/nope"]))
    add(S("sub/decode-arity", ["decode-script", "/workspace/s", "x"], env=PLATFORM))
    add(S("sub/step-init", ["step-init", "a", "b"]))
    add(S("sub/step-init-zero", ["step-init"]))
    add(S("sub/step-init-idempotent", ["step-init", "a", "b"], setup=[d(T + "/steps", 0o777), ln(T + "/steps/a", T + "/run/0/status"),
                                                                     ln(T + "/steps/0", T + "/run/0/status")]))
    add(S("sub/step-init-conflict-file", ["step-init", "a"], setup=[d(T + "/steps", 0o777), f(T + "/steps/a", "x")]))
    add(S("sub/step-init-steps-is-file", ["step-init", "a"], setup=[f(T + "/steps", "x")]))
    add(S("sub/init-dst-dir-missing", ["init", "/workspace/src", "/workspace/no/dir/ep", "a"], setup=[f("/workspace/src", "B")]))
    add(S("sub/cp-same-file", ["cp", "/workspace/src", "/workspace/src"], setup=[f("/workspace/src", "same")]))
    add(S("sub/decode-only-newlines", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "\r\n\n", 0o700)]))
    add(S("sub/decode-padding-mid", ["decode-script", "/workspace/s"], setup=[f("/workspace/s", "YQ=\n=", 0o600)]))
    add(S("sub/decode-is-dir", ["decode-script", "/workspace"]))
    add(S("sub/step-init-many", ["step-init"] + ["s%d" % i for i in range(12)]))
    add(S("sub/unknown-word", ["frobnicate", "x"], env=PLATFORM))
    add(S("sub/with-creds-flag", ["-basic-git=gitc=https://h", "step-init", "a"], setup=creds_setup()))

    # ---- results -----------------------------------------------------------------------------
    add(S("res/task", sh("printf v1 > /tekton/results/a; printf 'line\\n' > /tekton/results/b", extra=["-results", "a,b,missing"]), setup=READY))
    add(S("res/task-first-empty", sh("printf v1 > /tekton/results/a", extra=["-results", ",a"]), setup=READY))
    add(S("res/task-dir", sh("mkdir -p /tekton/results/a", extra=["-results", "a"]), setup=READY))
    add(S("res/task-unreadable-eacces", sh("printf x > /tekton/results/a; chmod 000 /tekton/results/a", extra=["-results", "a"]), setup=READY))
    add(S("res/task-on-failure", sh("printf v > /tekton/results/a; exit 3", extra=["-results", "a"]), setup=READY))
    add(S("res/step", sh("printf sv > /tekton/run/0/status/results/s", extra=["-step_results", "s,t"]), setup=READY))
    add(S("res/step-via-symlink", sh("printf '[\"a\",\"b\"]' > /tekton/steps/step-x/results/s", extra=["-step_results", "s"]),
          setup=READY + [d(T + "/steps", 0o777), ln(T + "/steps/step-x", T + "/run/0/status")]))
    add(S("res/task-and-step", sh("printf t > /tekton/results/a; printf s > /tekton/run/0/status/results/s",
                                  extra=["-results", "a", "-step_results", "s"]), setup=READY))
    add(S("res/task-name-traversal", sh("printf v > /workspace/x", extra=["-results", "../../workspace/x"]), setup=READY))
    add(S("res/task-symlink", sh("ln -s /workspace/real /tekton/results/a", extra=["-results", "a"]), setup=READY + [f("/workspace/real", "via-link")]))
    add(S("res/task-dangling-symlink", sh("ln -s /workspace/none /tekton/results/a", extra=["-results", "a"]), setup=READY))
    add(S("res/task-dup-names", sh("printf v > /tekton/results/a", extra=["-results", "a,a"]), setup=READY))
    add(S("res/step-no-smd", ["-post_file", "/workspace/pf", "-termination_path", "/workspace/term", "-step_results", "s",
                              "-entrypoint", SH, "--", "-c", "printf sv > results/s"]))
    add(S("res/artifacts", sh("true"), setup=READY + [f(T + "/run/0/status/artifacts/provenance.json", '{"inputs":[]}'),
                                                      f(T + "/artifacts/provenance.json", '{"outputs":[]}')]))
    add(S("res/artifacts-empty-file", sh("true"), setup=READY + [f(T + "/run/0/status/artifacts/provenance.json", "")]))
    add(S("res/artifacts-is-dir", sh("true"), setup=READY + [d(T + "/artifacts/provenance.json")]))
    add(S("res/artifacts-sidecar", sh("true", extra=["-result_from", "sidecar-logs"]),
          setup=READY + [f(T + "/artifacts/provenance.json", '{"outputs":[]}')]))
    add(S("res/result_from-other", sh("printf v > /tekton/results/a", extra=["-result_from", "whatever", "-results", "a"]), setup=READY))
    v4096 = None  # computed below: value that makes the message exactly 4096 bytes
    # message = [{"key":"r","value":"<V>","type":1}] + StartedAt entry appended later; size limit applies per write.
    # First write: [{"key":"r","value":"V","type":1}] = 33 + len(V) bytes.
    add(S("res/size-4096-exact", sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/results/r", "a" * (4096 - 33))]))
    add(S("res/size-4097", sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/results/r", "a" * (4097 - 33))]))
    add(S("res/size-4096-escaped", sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/results/r", "<" * ((4096 - 33) // 6))]))
    add(S("res/size-final-write-overflow", sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/results/r", "a" * (4096 - 33 - 10))]))
    add(S("res/special-chars", sh("true", extra=["-results", "r"]),
          setup=READY + [f(T + "/results/r", b"<a>&\"\\\n\r\t\x08\x0c\x01\x1f\x7f \xe2\x80\xa8\xe2\x80\xa9 \xff\xfe \xc3\xa9 \xf0\x9f\x98\x80 \xed\xa0\x80")]))
    add(S("res/invalid-utf8-size", sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/results/r", b"\xff" * 700)]))
    add(S("res/compress", sh("true", extra=["-results", ",".join("r%d" % i for i in range(20)), "-compress_termination_message=true"]),
          setup=READY + [f(T + "/results/r%d" % i, "value-%d-%s" % (i, "x" * 40)) for i in range(20)]))
    add(S("res/compress-fits-only-compressed", sh("true", extra=["-results", ",".join("r%d" % i for i in range(60)), "-compress_termination_message=true"]),
          setup=READY + [f(T + "/results/r%d" % i, "sha256:" + "0123456789abcdef" * 4) for i in range(60)]))
    add(S("res/compress-too-large", sh("true", extra=["-results", "r", "-compress_termination_message=true"]),
          setup=READY + [f(T + "/results/r", base64.b64encode(bytes(range(256)) * 16).decode())]))
    add(S("res/compress-small", sh("true", extra=["-compress_termination_message"]), setup=READY))
    add(S("res/compress-append-existing-plain", sh("true", extra=["-compress_termination_message=true"]),
          setup=READY + [f(T + "/termination", json.dumps([{"key": "k%d" % i, "value": "v" * 30, "type": 1} for i in range(10)], separators=(",", ":")))]))
    add(S("res/compress-append-existing-garbage", sh("true", extra=["-compress_termination_message=true"]),
          setup=READY + [f(T + "/termination", "garbage")]))
    for nm, content in [("valid", '[{"key":"pre","value":"x","type":1}]'), ("valid-notype", '[{"key":"pre","value":"x"}]'),
                        ("garbage", "not-json-and-quite-long-content-here-that-would-leave-a-tail-if-not-truncated" * 2),
                        ("whitespace", "  \n\t "), ("empty", ""), ("object", '{"a":1}'), ("null", "null"),
                        ("string-types", '[{"key":"a","value":"b","type":"TaskRunResult"},{"key":"c","value":"d","type":"Bogus"}]'),
                        ("extra-fields", '[{"key":"a","value":"b","type":1,"resourceName":"r","extra":1,"KEY":"z"}]'),
                        ("zero-entry", '[{}]'), ("nested-ws", ' [ {"key" : "a" , "value":"b"} ] '),
                        ("tknz", "tknz:" + base64.b64encode(zlib.compress(b'[{"key":"z","value":"zz","type":1}]')[2:-4]).decode().rstrip("=")),
                        ("tknz-bad", "tknz:!!!"), ("utf8-escapes", '[{"key":"a","value":"\\u00e9\\ud800<","type":1}]'),
                        ("float-type", '[{"key":"a","value":"b","type":1.0}]')]:
        add(S("term-append/" + nm, sh("true", extra=["-results", "r"]), setup=READY + [f(T + "/termination", content), f(T + "/results/r", "rv")]))
    add(S("term-append/is-symlink", sh("true"), setup=READY + [f("/workspace/realterm", "[]"), ln(T + "/termination", "/workspace/realterm")]))

    # ---- platform commands -------------------------------------------------------------------
    add(S("platform/found", step(0, cmd=("a1", "a2"), entry=False), env=PLATFORM, setup=READY))
    add(S("platform/fallback", step(0, cmd=("x",), entry=False),
          env={"TEKTON_PLATFORM_COMMANDS": '{"linux":["/bin/echo","fallback"]}'}, setup=READY))
    add(S("platform/variant-key", step(0, cmd=("x",), entry=False),
          env={"TEKTON_PLATFORM_COMMANDS": '{"linux/amd64/v2":["/bin/echo","v2"],"linux/amd64":["/bin/echo","plain"]}'}, setup=READY))
    add(S("platform/missing", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": '{"linux/arm64":["/bin/echo"]}'}, setup=READY))
    add(S("platform/unset", step(0, cmd=("x",), entry=False), setup=READY))
    add(S("platform/empty", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": ""}, setup=READY))
    add(S("platform/invalid-json", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": "{bad"}, setup=READY))
    add(S("platform/null", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": "null"}, setup=READY))
    add(S("platform/wrong-type", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": '{"linux/amd64":"echo"}'}, setup=READY))
    add(S("platform/empty-list-with-args", step(0, cmd=("/bin/echo", "arg"), entry=False),
          env={"TEKTON_PLATFORM_COMMANDS": '{"linux/amd64":[]}'}, setup=READY))
    add(S("platform/dup-keys", step(0, cmd=("x",), entry=False),
          env={"TEKTON_PLATFORM_COMMANDS": '{"linux/amd64":["/bin/echo","first"],"linux/amd64":["/bin/echo","second"]}'}, setup=READY))
    add(S("platform/case-key", step(0, cmd=("x",), entry=False), env={"TEKTON_PLATFORM_COMMANDS": '{"Linux/AMD64":["/bin/echo","ci"]}'}, setup=READY))
    add(S("platform/entrypoint-empty-flag", ["-entrypoint", "", "--", "x"], env=PLATFORM))
    add(S("platform/fatal-no-creds-written", ["-basic-git=gitc=https://h"], setup=creds_setup()))

    # ---- when expressions --------------------------------------------------------------------
    W = lambda j: sh("echo ran", extra=["--when_expressions", j])
    for nm, j in [("in-true", '[{"input":"a","operator":"in","values":["a","b"]}]'),
                  ("notin-true", '[{"input":"a","operator":"notin","values":["b"]}]'),
                  ("notin-false", '[{"input":"a","operator":"notin","values":["a"]}]'),
                  ("empty-operator", '[{"input":"a","values":["b"]}]'),
                  ("bogus-operator", '[{"input":"a","operator":"bogus","values":["a"]}]'),
                  ("two-one-false", '[{"input":"a","operator":"in","values":["a"]},{"input":"a","operator":"in","values":["b"]}]'),
                  ("cel-true", '[{"cel":"\'foo\' == \'foo\'"}]'),
                  ("cel-false", '[{"cel":"\'foo\' != \'foo\'"}]'),
                  ("cel-non-bool", '[{"cel":"\'foo\'"}]'),
                  ("cel-undeclared", '[{"cel":"foo == foo"}]'),
                  ("cel-syntax", '[{"cel":"1 +"}]'),
                  ("cel-div-zero", '[{"cel":"1/0 == 1"}]'),
                  ("cel-macros", '[{"cel":"[1,2,3].exists(x, x > 2) && \'abc\'.matches(\'^a\') && size(\'ab\') == 2"}]'),
                  ("cel-int-uint", '[{"cel":"1 == 1u"}]'),
                  ("cel-true-in-false", '[{"cel":"true","input":"a","operator":"in","values":["b"]}]'),
                  ("cel-then-false", '[{"cel":"true"},{"cel":"false"}]'),
                  ("case-insensitive-fields", '[{"Input":"a","OPERATOR":"in","Values":["a"]}]'),
                  ("unknown-fields", '[{"input":"a","operator":"in","values":["a"],"x":1}]'),
                  ("invalid-json", '[{"input":'),
                  ("not-array", '{"input":"a"}'),
                  ("null", 'null'),
                  ("empty-array", '[]'),
                  ("values-null", '[{"input":"","operator":"in","values":null}]'),
                  ("trailing-garbage", '[] x')]:
        add(S("when/" + nm, W(j), setup=READY))

    # ---- step-result / artifact substitution -------------------------------------------------
    sr_setup = READY + [d(T + "/steps", 0o777), ln(T + "/steps/step-prev", T + "/run/9/status"),
                        f(T + "/run/9/status/results/str", "hello"),
                        f(T + "/run/9/status/results/arr", '["Hello","World"]'),
                        f(T + "/run/9/status/results/obj", '{"hello":"world"}'),
                        f(T + "/run/9/status/results/jstr", '"quoted"')]
    add(S("subst/env", sh('echo "$A|$B|$C|$D|$E"'), env={
        "A": "$(steps.prev.results.str)", "B": "$(steps.prev.results.arr[1])", "C": "$(steps.prev.results.obj.hello)",
        "D": "x-$(steps.prev.results.str)-$(steps.prev.results.jstr)", "E": "$(steps.prev.results.arr[*])"}, setup=sr_setup))
    add(S("subst/env-bad-ref", sh('echo "$A|$B"'), env={"A": "$(steps.a.b.c.d.e.results.x)", "B": "$(steps.prev.results.str)"}, setup=sr_setup))
    add(S("subst/env-missing-file", sh('echo "$A"'), env={"A": "$(steps.nope.results.str)"}, setup=sr_setup))
    add(S("subst/argv", step(0, cmd=("/bin/echo", "start", "$(steps.prev.results.arr[*])", "stop", "$(steps.prev.results.str)",
                                     "$(steps.prev.results.arr[0])-$(steps.prev.results.arr[1])", "$(steps.prev.results.obj.hello)")), setup=sr_setup))
    add(S("subst/argv-star-suffix", step(0, cmd=("/bin/echo", "$(steps.prev.results.arr[*])x")), setup=sr_setup))
    add(S("subst/argv-out-of-range", step(0, cmd=("/bin/echo", "$(steps.prev.results.arr[5])")), setup=sr_setup))
    add(S("subst/argv-entrypoint-flag", step(0, cmd=("$(steps.prev.results.str)",)), setup=sr_setup))
    add(S("subst/when", sh("echo ran", extra=["--when_expressions", '[{"input":"$(steps.prev.results.str)","operator":"in","values":["$(steps.prev.results.arr[*])"]}]']),
          setup=sr_setup))
    add(S("subst/when-cel", sh("echo ran", extra=["--when_expressions", '[{"cel":"\'$(steps.prev.results.str)\' == \'hello\'"}]']), setup=sr_setup))
    art = '{"inputs":[{"name":"src","values":[{"digest":{"sha256":"64d0"},"uri":"git:x<y>"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"aa"},"uri":"docker:r/o"}]}]}'
    art_setup = READY + [d("/workspace/tmp", 0o777), d(T + "/steps", 0o777), ln(T + "/steps/step-prev", T + "/run/9/status"),
                         f(T + "/run/9/status/artifacts/provenance.json", art)]
    add(S("subst/artifact-argv", step(0, cmd=("/bin/echo", "$(steps.prev.outputs.image)", "in=$(steps.prev.inputs.src)")), setup=art_setup))
    add(S("subst/artifact-env", sh('echo "$A"'), env={"A": "abc-$(steps.prev.outputs.image)"}, setup=art_setup))
    add(S("subst/artifact-unknown", step(0, cmd=("/bin/echo", "$(steps.prev.outputs.nope)")), setup=art_setup))
    add(S("subst/artifact-script", step(0, cmd=(T + "/scripts/s.sh",)),
          setup=art_setup + [f(T + "/scripts/s.sh", "#!/bin/sh\necho $0 | sed 's/[0-9]//g'\necho '$(steps.prev.outputs.image)'\n", 0o755)]))
    add(S("subst/artifact-script-nomatch", step(0, cmd=(T + "/scripts/s.sh",)),
          setup=art_setup + [f(T + "/scripts/s.sh", "#!/bin/sh\necho $0\n", 0o755)]))

    # ---- tee ---------------------------------------------------------------------------------
    add(S("tee/stdout", sh("echo out; echo err >&2", extra=["-stdout_path", "/workspace/logs/o.txt"]), setup=READY))
    add(S("tee/both-same", sh("echo out; echo err >&2", extra=["-stdout_path", "/workspace/l.txt", "-stderr_path", "/workspace/l.txt"]), setup=READY))
    add(S("tee/append-existing", sh("echo new", extra=["-stdout_path", "/workspace/o.txt"]), setup=READY + [f("/workspace/o.txt", "old\n", 0o600)]))
    add(S("tee/deep-parent", sh("echo x >&2", extra=["-stderr_path", "/workspace/a/b/c/e.txt"]), setup=READY))
    add(S("tee/parent-is-file", sh("echo x", extra=["-stdout_path", "/workspace/file/o.txt"]), setup=READY + [f("/workspace/file", "x")]))
    add(S("tee/exit-code", sh("echo x; exit 6", extra=["-stdout_path", "/workspace/o.txt"]), setup=READY))
    add(S("tee/timeout", sh("echo before; sleep 5", extra=["-stdout_path", "/workspace/o.txt", "-timeout", "1s"]), setup=READY))
    add(S("tee/signal", sh("echo before; kill -INT $$; sleep 1", extra=["-stdout_path", "/workspace/o.txt"]), setup=READY))
    add(S("tee/binary", sh("printf '\\377\\000abc'", extra=["-stdout_path", "/workspace/o.bin"]), setup=READY))

    # ---- credentials -------------------------------------------------------------------------
    C = creds_setup()
    add(S("creds/basic-git", sh("echo c", extra=["-basic-git=gitc=https://h"]), setup=READY + C))
    add(S("creds/basic-git-path", sh("echo c", extra=["-basic-git=gitc=https://github.com/org/repo", "-basic-git=bs=https://h.io"]), setup=READY + C))
    add(S("creds/basic-git-malformed", sh("echo c", extra=["-basic-git=gitc"]), setup=READY + C))
    add(S("creds/basic-git-too-many", sh("echo c", extra=["-basic-git=gitc=https://h?a=b"]), setup=READY + C))
    add(S("creds/basic-git-dup", sh("echo c", extra=["-basic-git=gitc=https://h", "-basic-git=bs=https://h"]), setup=READY + C))
    add(S("creds/basic-git-missing-secret", sh("echo c", extra=["-basic-git=nosecret=https://h"]), setup=READY + C))
    add(S("creds/basic-git-missing-password", sh("echo c", extra=["-basic-git=half=https://h"]),
          setup=READY + C + [f(T + "/creds-secrets/half/username", "u")]))
    add(S("creds/basic-docker", sh("echo c", extra=["-basic-docker=bs=https://us.gcr.io"]), setup=READY + C))
    add(S("creds/docker-all", sh("echo c", extra=["-docker-cfg=oldcfg", "-docker-config=regcred", "-basic-docker=bs=https://index.docker.io/v1/"]),
          setup=READY + C))
    add(S("creds/docker-config-missing", sh("echo c", extra=["-docker-config=nope"]), setup=READY + C))
    add(S("creds/docker-config-bad-json", sh("echo c", extra=["-docker-config=bad"]),
          setup=READY + C + [f(T + "/creds-secrets/bad/.dockerconfigjson", "{nope")]))
    add(S("creds/ssh", sh("echo c", extra=["-ssh-git=sshk=github.com", "-ssh-git=sshk2=github.com:2222/org/repo", "-ssh-git=sshk2=github.com"]),
          setup=READY + C))
    add(S("creds/ssh-missing-key", sh("echo c", extra=["-ssh-git=gitc=github.com"]), setup=READY + C))
    add(S("creds/ssh-malformed", sh("echo c", extra=["-ssh-git=a=b=c"]), setup=READY + C))
    add(S("creds/mixed", sh("echo c", extra=["-basic-git=gitc=https://github.com", "-ssh-git=sshk=gitlab.com/o/r",
                                             "-docker-config=regcred"]), setup=READY + C))
    add(S("creds/home-unset", sh("echo c", extra=["-basic-git=gitc=https://h"]), unset=["HOME"], setup=READY + C))
    add(S("creds/home-existing", sh("echo c", extra=["-basic-git=gitc=https://h"]),
          setup=READY + C + [f(T + "/home/.gitconfig", "old-content-that-is-longer-than-new" * 5, 0o644)]))
    add(S("creds/creds-dir-preexisting", sh("echo c"), setup=READY + [f(T + "/creds/.gitconfig", "pre", 0o640), d(T + "/creds/.ssh", 0o755),
                                                                      f(T + "/creds/.ssh/id_x", "k", 0o600)]))
    add(S("creds/creds-is-file", sh("echo c", extra=["-basic-git=gitc=https://h"]), setup=READY + C + [f(T + "/creds", "x")]))
    H = [d(T + "/home", 0o777)]  # in a pod $HOME=/tekton/home is an existing emptyDir
    add(S("creds-home/basic-git", sh("echo c", extra=["-basic-git=gitc=https://h"]), setup=READY + C + H))
    add(S("creds-home/mixed", sh("echo c", extra=["-basic-git=gitc=https://github.com", "-ssh-git=sshk=gitlab.com/o/r",
                                                  "-docker-config=regcred", "-basic-docker=bs=https://us.gcr.io"]), setup=READY + C + H))
    add(S("creds-home/docker-all", sh("echo c", extra=["-docker-cfg=oldcfg", "-docker-config=regcred", "-basic-docker=bs=https://index.docker.io/v1/"]),
          setup=READY + C + H))
    add(S("creds-home/ssh", sh("echo c", extra=["-ssh-git=sshk=github.com", "-ssh-git=sshk2=github.com:2222/org/repo"]), setup=READY + C + H))
    add(S("creds-home/existing-longer", sh("echo c", extra=["-basic-git=gitc=https://h"]),
          setup=READY + C + H + [f(T + "/home/.gitconfig", "old-content-that-is-longer-than-new" * 5, 0o644),
                                 f(T + "/home/.ssh/other", "keep", 0o644)]))
    add(S("creds-home/umask-ish-preexisting-dir", sh("echo c", extra=["-ssh-git=sshk=github.com"]),
          setup=READY + C + H + [d(T + "/home/.ssh", 0o755)]))
    add(S("creds/wait-skip-still-writes", sh("echo c", i=1, extra=["-basic-git=gitc=https://h"]), setup=C + [f(T + "/run/0/out.err")]))
    return L


# ---------------------------------------------------------------------------------------------
# Inner worker: runs inside the private mount namespace


def _content(c):
    if isinstance(c, dict):
        return base64.b64decode(c["b64"])
    return c.encode()


def _write(path, data, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    if mode is not None:
        os.chmod(path, mode)


def inner(spec_path, binary):
    with open(spec_path) as fh:
        sc = json.load(fh)
    for r in ROOTS:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "none", r], check=True)
    os.umask(0o022)
    for op in sc["setup"]:
        if op[0] == "file":
            _write(op[1], _content(op[2]), op[3])
        elif op[0] == "dir":
            os.makedirs(op[1], exist_ok=True)
            os.chmod(op[1], op[2])
        elif op[0] == "symlink":
            os.makedirs(os.path.dirname(op[1]), exist_ok=True)
            os.symlink(op[2], op[1])
    os.makedirs("/workspace/cwd", exist_ok=True)
    os.makedirs("/workspace/tmp", exist_ok=True)
    env = dict(BASE_ENV)
    env.update(sc["env"])
    for k in sc["unset"]:
        env.pop(k, None)
    def dispositions():
        # A harness started from a non-interactive shell's background job inherits SIGINT/SIGQUIT
        # ignored; a container's PID 1 starts with defaults, so reset them unless asked not to.
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        for name in sc.get("sigign", []):
            signal.signal(getattr(signal, "SIG" + name), signal.SIG_IGN)

    p = subprocess.Popen([ARGV0] + sc["argv"], executable=binary, env=env, cwd="/workspace/cwd",
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, preexec_fn=dispositions)
    import threading
    outs = {}

    def rd(name, stream):
        outs[name] = stream.read()

    th = [threading.Thread(target=rd, args=("out", p.stdout)), threading.Thread(target=rd, args=("err", p.stderr))]
    for t in th:
        t.start()
    t0 = time.monotonic()
    pending = sorted(sc["actions"], key=lambda a: a[0])
    hung = False
    unmet = []
    while True:
        rc = p.poll()
        if rc is not None:
            break
        now = time.monotonic() - t0
        while pending and pending[0][0] <= now and condition_met(p.pid, pending[0]):
            a = [x for x in pending.pop(0) if not isinstance(x, dict)]
            if a[1] == "file":
                _write(a[2], _content(a[3]))
            elif a[1] == "sh":
                subprocess.Popen([SH, "-c", a[2]])
            elif a[1] == "signal":
                try:
                    p.send_signal(getattr(signal, "SIG" + a[2]))
                except ProcessLookupError:
                    pass
        if now > sc["limit"]:
            hung = True
            unmet = [a for a in pending if a[0] <= now]
            os.killpg(p.pid, signal.SIGKILL)
        time.sleep(0.02)
    for t in th:
        t.join(timeout=5)
    after_ = snapshot()
    res = {"exit": rc if not hung else "HUNG(killed after %ss)" % sc["limit"],
           "stdout": outs.get("out", b"").decode("utf-8", "backslashreplace"),
           "stderr": mask_stderr(outs.get("err", b"")),
           "files": after_}
    if unmet:
        res["harness-error"] = "action condition never met: %s" % json.dumps(unmet)
    json.dump(res, sys.stdout)


IDLE_SAMPLES = 10  # consecutive 20 ms samples with every thread asleep: blocked, not starting up
_idle_runs = {}


def condition_met(pid, action):
    """Whether the entrypoint `pid` is in the state `action` waits for (see while_running)."""
    when = next((x["when"] for x in action if isinstance(x, dict)), None)
    if when is None:
        return True
    if when.startswith("child:"):
        return any(_comm(c) == when[len("child:"):] for c in _descendants(pid))
    if when == "idle":
        asleep = not _descendants(pid) and _threads_asleep(pid)
        _idle_runs[pid] = _idle_runs.get(pid, 0) + 1 if asleep else 0
        return _idle_runs[pid] >= IDLE_SAMPLES
    raise ValueError("unknown action condition %r" % when)


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/children" % (p, tid)) as fh:
                    kids = [int(c) for c in fh.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _threads_asleep(pid):
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "S":
                    return False
    except OSError:
        return False
    return True


def snapshot(before=None):
    """Map path -> description for every entry under ROOTS (StartedAt masked in termination files)."""
    out = {}
    for r in ROOTS:
        for dirpath, dirnames, filenames in os.walk(r):
            names = sorted(dirnames + filenames)
            for n in names:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                mode = "%04o" % (st.st_mode & 0o7777)
                if os.path.islink(p):
                    desc = "symlink -> %s" % os.readlink(p)
                elif os.path.isdir(p):
                    desc = "dir %s" % mode
                else:
                    try:
                        with open(p, "rb") as fh:
                            data = fh.read()
                    except OSError as e:
                        data = ("<unreadable %s>" % e).encode()
                    desc = "file %s %s" % (mode, describe_content(p, data))
                key = TMP_SCRIPT_RE.sub("script-N", p)
                out[key] = desc
    return out


def describe_content(path, data):
    looks_term = path.endswith("termination") or path.endswith("term") or data.startswith(b"tknz:") or data.startswith(b"[{")
    if looks_term:
        return normalise_termination(data)
    if len(data) > 600:
        return "%d bytes %r...%r" % (len(data), data[:80], data[-40:])
    return repr(data)


def normalise_termination(data):
    txt = data
    note = ""
    if txt.startswith(b"tknz:"):
        b = txt[5:]
        try:
            raw = zlib.decompress(base64.b64decode(b + b"=" * (-len(b) % 4), validate=True), -15)
            note = "[tknz decoded; compressed len class %s] " % ("<4096" if len(txt) <= 4096 else ">4096")
            txt = raw
        except Exception as e:  # noqa: BLE001 - report any decode failure as content
            return "TKNZ-UNDECODABLE %r (%s)" % (txt[:200], e)
    try:
        entries = json.loads(txt.decode("utf-8"))
    except Exception:
        return repr(data[:600])
    if isinstance(entries, list):
        for e in entries:
            if isinstance(e, dict) and e.get("key") == "StartedAt" and isinstance(e.get("value"), str):
                v = e["value"]
                e["value"] = "<STARTED_AT ok>" if STARTED_AT_RE.match(v) else "<STARTED_AT BAD FORMAT %r>" % v
    # Re-render with Go-like compact JSON so byte length differences still show up.
    masked = re.sub(rb'"StartedAt","value":"[^"]*"', b'"StartedAt","value":"<T>"', txt)
    return note + "len=%d json=%s" % (len(txt), masked.decode("utf-8", "backslashreplace") if len(masked) < 1500 else
                                      json.dumps(entries)[:1500])


def mask_stderr(b):
    b = LOG_TS_RE.sub(b"<TS> ", b)
    s = b.decode("utf-8", "backslashreplace")
    s = TMP_SCRIPT_RE.sub("script-N", s)
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)", "<STARTED_AT>", s)
    s = re.sub(r"goroutine \d+", "goroutine N", s)
    return s


# ---------------------------------------------------------------------------------------------
# Outer driver


def run_one(sc, binary, tmpdir):
    spec = os.path.join(tmpdir, "spec.json")
    with open(spec, "w") as fh:
        json.dump(sc.to_json(), fh)
    cmd = ["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__),
           "--inner", spec, "--bin", os.path.abspath(binary)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=sc.limit + 30)
    if p.returncode != 0:
        return {"harness-error": p.stderr.decode(errors="replace")[-2000:]}
    return json.loads(p.stdout)


# Files only stepkit writes, by design: the per-step results record (docs/contract.md §3.10),
# which a successor reads to report only the task results it changed.
IGNORE = [r"/tekton/run/\d+/task-results\.sha256$"]

# Known deviations (docs/compat.md, "Status"): a scenario listed here may differ from upstream
# only in the way given; --strict fails on any other difference, and on a listed deviation that
# is gone (so the list and the docs stay true).
KNOWN = {
    # Behaviour, deliberate.
    "flags/enable_spire": ("any", "exit 1: SPIRE is not implemented (docs/contract.md §3.5 step 6)"),
    "subst/argv-out-of-range": ("any", "upstream panics; we run the step with the reference as is (docs/contract.md §3.13)"),
    "creds/ssh": ("any", "upstream skips .gitconfig/.git-credentials when $HOME does not exist yet"),
    "creds/creds-dir-preexisting": ("any", "as creds/ssh"),
    "matrix/post-file-unwritable": ("any", "exitCode is written before the post file (issue 13), so it exists when the post file cannot be written"),
    # stderr wording only: cel-go's and encoding/json's error texts.
    "matrix/when-cel-error": ("stderr", "cel-go error text"),
    "when/cel-undeclared": ("stderr", "cel-go error text"),
    "when/cel-syntax": ("stderr", "cel-go error text"),
    "when/cel-div-zero": ("stderr", "cel-go error text"),
    "when/cel-int-uint": ("stderr", "cel-go error text"),
    "when/not-array": ("stderr", "encoding/json error text"),
    "res/compress-append-existing-garbage": ("stderr", "encoding/json error text"),
    "creds/docker-config-bad-json": ("stderr", "encoding/json error text"),
}
# A race both binaries have by design: the outcome depends on when each reads the file.
RACY = {
    "matrix/breakpoint-create-then-write": ".breakpointexit read between its creation and its write",
    "tee/both-same": "stdout and stderr are two pipes copied independently (two goroutines upstream, two threads here) into one file",
}


def lines_of(obs, with_stderr):
    out = ["exit: %s" % obs.get("exit")]
    if "harness-error" in obs:
        out.append("HARNESS ERROR: " + obs["harness-error"])
        return out
    out += ["stdout: " + l for l in obs["stdout"].splitlines() or [""]]
    for k in sorted(obs["files"]):
        if any(re.search(rx, k) for rx in IGNORE):
            continue
        out.append("fs %s: %s" % (k, obs["files"][k]))
    if with_stderr:
        out += ["stderr: " + l for l in obs["stderr"].splitlines()]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours")
    ap.add_argument("--upstream")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on any difference not in KNOWN/RACY, on a KNOWN one that is gone, "
                         "and on harness errors")
    ap.add_argument("--no-stderr", action="store_true", help="ignore stderr differences")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                    help="ignore files whose path matches (e.g. '\\.lock$' for our liveness lock files)")
    ap.add_argument("-j", type=int, default=3, help="scenarios run in parallel")
    ap.add_argument("-v", action="store_true", help="print full observations for DIFF scenarios")
    ap.add_argument("--inner")
    ap.add_argument("--bin")
    a = ap.parse_args()
    if a.inner:
        inner(a.inner, a.bin)
        return 0
    scs = [s for s in scenarios() if not a.only or any(o in s.name for o in a.only)]
    if a.list:
        for s in scs:
            print(s.name, json.dumps(s.argv))
        return 0
    if not a.ours or not a.upstream:
        ap.error("--ours and --upstream are required")
    if os.geteuid() != 0:
        print("SKIP: needs root for mount namespaces")
        # Under STEPKIT_REQUIRE_ALL=1 (CI) nothing may be skipped.
        return 1 if os.environ.get("STEPKIT_REQUIRE_ALL") == "1" else 0
    created = [r for r in ROOTS if not os.path.isdir(r)]
    for r in created:
        os.makedirs(r)
    try:
        return compare(a, scs)
    finally:
        for r in created:  # mount points only: the tmpfs mounts lived in private namespaces
            try:
                os.rmdir(r)
            except OSError as e:
                print("diff.py: %s left in place: %s" % (r, e), file=sys.stderr)


def compare(a, scs):
    IGNORE.extend(a.ignore)
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    passed = failed = 0

    def both(sc):
        with tempfile.TemporaryDirectory() as tmp:
            return run_one(sc, a.ours, tmp), run_one(sc, a.upstream, tmp)

    unexpected = []
    with ThreadPoolExecutor(max_workers=max(1, a.j)) as pool:
        for sc, (o, u) in zip(scs, pool.map(both, scs)):
            lo, lu = lines_of(o, not a.no_stderr), lines_of(u, not a.no_stderr)
            known = KNOWN.get(sc.name)
            if "harness-error" in o or "harness-error" in u:
                unexpected.append("%s: harness error" % sc.name)
            if lo == lu:
                passed += 1
                print("SAME %s" % sc.name)
                if known and not (known[0] == "stderr" and a.no_stderr):
                    unexpected.append("%s: the known deviation (%s) is gone: update KNOWN and docs/compat.md"
                                      % (sc.name, known[1]))
            else:
                failed += 1
                hard = lines_of(o, False) != lines_of(u, False)
                if sc.name in RACY:
                    note = " (racy by design: %s)" % RACY[sc.name]
                elif known and (known[0] == "any" or not hard):
                    note = " (known: %s)" % known[1]
                else:
                    note = ""
                    unexpected.append("%s: unexpected difference" % sc.name)
                print("DIFF %s%s%s  argv=%s" % (sc.name, "" if hard else " (stderr only)", note, json.dumps(sc.argv)))
                for l in difflib.unified_diff(lu, lo, "upstream", "ours", n=0, lineterm=""):
                    if l.startswith(("---", "+++", "@@")):
                        continue
                    print("    " + l)
                if a.v:
                    print("    [upstream full]\n      " + "\n      ".join(lu))
            sys.stdout.flush()
    print("%d same, %d different (known deviations or racy by design unless listed below)"
          % (passed, failed))
    for line in unexpected:
        print("UNEXPECTED " + line)
    # A scenario passes when it is the same or differs only as KNOWN/RACY allow.
    bad = len({line.split(":", 1)[0] for line in unexpected})
    print("compat: %d passed, %d failed" % (passed + failed - bad, bad))
    if a.strict:
        return 1 if unexpected else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
