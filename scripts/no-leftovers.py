#!/usr/bin/env python3
"""Runs a command and fails if any process it started is still alive when it ends.

    scripts/no-leftovers.py [--grace SECONDS] -- COMMAND [ARGS...]
    scripts/no-leftovers.py --marker NAME=VALUE

This process makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so every process the
command starts that outlives its parent (a `git daemon` orphaned by killing the `git` wrapper,
a server left by a test fixture, a detached conmon) is re-parented here instead of to init,
whatever it did with its environment, session or process group. When the command exits, the
survivors get `--grace` seconds to go (kills of process groups land asynchronously), then each
one still alive is printed, killed, and the exit status is 1 (or the command's own status if
that already failed).

With `--marker`, it instead lists every live process whose environment holds NAME=VALUE (CI
exports a random one), other than itself and its parent, and fails if there is any: a second
net for processes that escaped a subreaper (none should).
"""

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    """Live (non-zombie) children of this process; zombies are reaped on the way."""
    reap()
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return [p for p in out if state(p) not in (None, "Z")]


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cmd = " ".join(a.decode(errors="replace") for a in argv)
        return f"pid {pid} (pgid {fields[2]}, sid {fields[3]}): {cmd[:300]}"
    except OSError:
        return f"pid {pid} (gone)"


def marked(marker):
    """Live processes, other than this one and its parent, whose environment holds `marker`."""
    me = {os.getpid(), os.getppid()}
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in env and state(int(entry)) not in (None, "Z"):
            out.append(int(entry))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grace", type=float, default=5.0)
    ap.add_argument("--marker", help="NAME=VALUE: list live processes carrying it instead")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.marker:
        left = marked(a.marker)
        for pid in left:
            print("no-leftovers: still alive: " + describe(pid), file=sys.stderr)
        print(f"no-leftovers: {len(left)} process(es) carry {a.marker.split('=')[0]}")
        return 1 if left else 0
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        ap.error("no command")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"no-leftovers: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

    main_child = subprocess.Popen(command)
    # Reap orphans as they die while the command runs, so none piles up as a zombie.
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == main_child.pid:
            code = os.waitstatus_to_exitcode(status)
            break
    main_child.returncode = code

    deadline = time.monotonic() + a.grace
    left = children()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = children()
    if not left:
        return code
    print(f"no-leftovers: {len(left)} process(es) outlived `{' '.join(command)}`:", file=sys.stderr)
    for pid in left:
        print("  " + describe(pid), file=sys.stderr)
    # Killed leftovers' own children are re-parented here in turn: repeat until none is left.
    for _ in range(20):
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.1)
        left = children()
        if not left:
            break
    return code or 1


if __name__ == "__main__":
    sys.exit(main())
