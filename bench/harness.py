#!/usr/bin/env python3
"""stepkit vs upstream Tekton entrypoint: measured side by side on this machine, in one run.

Entry point: scripts/bench.sh <release-dir> [--quick] (which runs this file,
inside a private mount namespace with a tmpfs on /tekton when it can).
Prints one Markdown table and writes target/bench/results.json and
target/bench/handoff.svg. Methods are described in docs/bench.md.

Exit status: 0 whatever the numbers are (a binary that misbehaves in a
measurement is reported in the table as a failure); 1 only for harness errors.
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stamp  # noqa: E402
from cgroup import MemoryCgroup  # noqa: E402
import svgplot  # noqa: E402
import upstream  # noqa: E402

OURS = "stepkit"
PRIMARY = "v1.15.0"
OLD = "v0.37.2"
SPIRE = "v1.15.0-spire"


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class MeasureError(Exception):
    """The measured binary misbehaved (reported in the table, not a harness error)."""


# --------------------------------------------------------------------------- implementations


class Impl:
    def __init__(self, key, label, path, ours, info=None):
        self.key = key
        self.label = label
        self.path = path
        self.ours = ours
        self.info = info or {}
        # features that v0.37.2 lacks (docs/contract.md §3.2)
        self.old = key == OLD

    def env(self, tdir, extra=None):
        """Environment for one run; `tdir` is the run's private temp dir."""
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.path.join(tdir, "home"),
            "LANG": "C",
        }
        if self.ours:
            env["STEPKIT_TEKTON_DIR"] = os.path.join(tdir, "tekton")
            env["STEPKIT_WORKSPACE_DIR"] = os.path.join(tdir, "workspace")
        if extra:
            env.update(extra)
        return env


class Ctx:
    """Shared state of one harness run."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.repo = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
        self.out_dir = os.path.join(self.repo, "target", "bench")
        os.makedirs(self.out_dir, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="stepkit-bench-")
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.stamp_dir = tempfile.mkdtemp(prefix="stepkit-bench-stamps-", dir=shm)
        self.stamp = stamp.install(os.path.join(self.work, "stamp"))
        self.rng = random.Random(args.seed)
        self.tekton_root = "/tekton" if args.tekton_ns and private_tmpfs("/tekton") else None
        if args.tekton_ns and self.tekton_root is None:
            raise SystemExit("bench: --tekton-ns given but /tekton is not a tmpfs mount; refusing to touch it")
        self.impls = []
        self.notes = []
        self.results = {}
        self.children = []  # Popen objects still possibly alive (killed on exit)
        self.sleep_bin = shutil.which("sleep") or "/bin/sleep"
        self.extra_impls = []  # measured in the density section only (--density-baseline)

    def tekton_dir(self, impl, tdir):
        """Where `impl` reads /tekton/... paths from, or None if unavailable."""
        if impl.ours:
            return os.path.join(tdir, "tekton")
        return self.tekton_root

    def reset_tekton(self, impl, tdir):
        root = self.tekton_dir(impl, tdir)
        if root is None:
            raise MeasureError("needs /tekton (run as root with unshare for a private /tekton)")
        if root == self.tekton_root:
            for name in os.listdir(root):
                p = os.path.join(root, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
        os.makedirs(root, exist_ok=True)
        return root

    def new_dir(self, name):
        d = tempfile.mkdtemp(prefix=name + "-", dir=self.work)
        for sub in ("home", "term", "run"):
            os.makedirs(os.path.join(d, sub))
        return d

    def new_stamp_path(self, name):
        return tempfile.mktemp(prefix=name + "-", dir=self.stamp_dir)

    def spawn(self, impl, argv, tdir, extra_env=None, **kw):
        out = open(os.path.join(tdir, f"log-{len(os.listdir(tdir))}.txt"), "wb")
        try:
            p = subprocess.Popen(
                [impl.path, *argv], env=impl.env(tdir, extra_env), cwd=tdir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, **kw,
            )
        finally:
            out.close()
        p.log_path = out.name
        self.children.append(p)
        return p

    def reap(self, p, timeout):
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(p)
            raise MeasureError(f"{os.path.basename(p.args[0])} did not finish within {timeout:.0f} s "
                               f"(log: {log_tail(p)})")
        finally:
            if p in self.children and p.returncode is not None:
                self.children.remove(p)

    def kill_all(self):
        for p in list(self.children):
            kill_tree(p)
        self.children.clear()

    def cleanup(self):
        self.kill_all()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.stamp_dir, ignore_errors=True)


def private_tmpfs(path):
    """True if `path` is a tmpfs mount point in this mount namespace (bench.sh's private /tekton)."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if fields[4] == path and fields[sep + 1] == "tmpfs":
                    return True
    except (OSError, ValueError, IndexError):
        pass
    return False


def kill_tree(p):
    """SIGKILL a process we started and its session (its step command lives in a child group)."""
    if p.returncode is not None:
        return
    for pid in child_pids(p.pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def child_pids(pid):
    """Children of every thread of `pid` (Go forks from any thread)."""
    pids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    pids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return pids


def log_tail(p, n=300):
    try:
        with open(p.log_path, "rb") as f:
            data = f.read().decode("utf-8", "replace").strip()
    except (OSError, AttributeError):
        return "(no log)"
    return (data[-n:] if data else "(empty)").replace("\n", " | ")


def expect_exit(p, code, what):
    if p.returncode != code:
        raise MeasureError(f"{what}: exit {p.returncode}, expected {code} (log: {log_tail(p)})")


def step_args(tdir, idx, wait=None, content=False, extra=()):
    """Relocatable step flags: every path lives in `tdir`."""
    args = []
    if wait:
        args += ["-wait_file", wait]
        if content:
            args.append("-wait_file_content")
    args += [
        "-post_file", os.path.join(tdir, "run", str(idx), "out"),
        "-termination_path", os.path.join(tdir, "term", str(idx)),
        "-step_metadata_dir", os.path.join(tdir, "run", str(idx), "status"),
    ]
    return args + list(extra)


def wait_exit_pidfd(pid, timeout):
    """Block until `pid` terminates; return monotonic ns at wake-up, or None on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return time.monotonic_ns()
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if poller.poll(timeout * 1000):
            return time.monotonic_ns()
        return None
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- statistics


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return None
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summary(values):
    if not values:
        return None
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "p99": pct(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns < 10_000:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1_000_000:
        return f"{ns / 1e3:.0f} µs"
    if ns < 10_000_000:
        return f"{ns / 1e6:.2f} ms"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.0f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_bytes(n):
    if n is None:
        return "–"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n} B"


def fmt_ratio(ours, base):
    if ours is None or base in (None, 0):
        return "–"
    r = ours / base
    if r == 0:
        return "0"
    if r < 0.1:
        return f"{r:.2g} (1/{1 / r:.0f})"
    return f"{r:.2f}"


# --------------------------------------------------------------------------- measurements

STEPS = 10


def chain_once(ctx, impl, steps=STEPS):
    """One pod-like chain: `steps` entrypoints started at random offsets within 1 s.

    Step 0 waits for a downward-API style `ready` file to get content; step i
    waits for step i-1's post file. Every command is `stamp`, which records its
    start and end. Returns (ready->cmd0 wake, [cmd i exit -> cmd i+1 start], total).
    """
    tdir = ctx.new_dir(f"chain-{impl.key}")
    os.makedirs(os.path.join(tdir, "downward"))
    ready = os.path.join(tdir, "downward", "ready")
    open(ready, "wb").close()
    stamps = [ctx.new_stamp_path(f"chain{i}") for i in range(steps)]
    for i in range(steps):
        os.makedirs(os.path.join(tdir, "run", str(i)))
    offsets = sorted((ctx.rng.random(), i) for i in range(steps))
    procs = [None] * steps
    t_base = time.monotonic()
    for off, i in offsets:
        delay = t_base + off - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        wait = ready if i == 0 else os.path.join(tdir, "run", str(i - 1), "out")
        argv = step_args(tdir, i, wait=wait, content=(i == 0),
                         extra=["-entrypoint", ctx.stamp, "--", stamps[i]])
        procs[i] = ctx.spawn(impl, argv, tdir)
    time.sleep(0.3)
    for i, p in enumerate(procs):
        if p.poll() is not None:
            raise MeasureError(f"step {i} exited before the chain started: exit {p.returncode} "
                               f"(log: {log_tail(p)})")
    with open(ready, "r+b", buffering=0) as f:
        t_ready = time.monotonic_ns()
        f.write(b"READY")
    t_end = wait_exit_pidfd(procs[-1].pid, timeout=steps * 2 + 10)
    for i, p in enumerate(procs):
        ctx.reap(p, timeout=steps * 2 + 10)
        expect_exit(p, 0, f"step {i}")
    if t_end is None:
        raise MeasureError("chain did not finish")
    recs = []
    for i, path in enumerate(stamps):
        r = stamp.read(path) if os.path.exists(path) else []
        if len(r) != 1:
            raise MeasureError(f"step {i} command ran {len(r)} times (expected once)")
        recs.append(r[0])
    for i in range(steps):
        if not os.path.exists(os.path.join(tdir, "run", str(i), "out")):
            raise MeasureError(f"step {i} wrote no post file")
    wake0 = recs[0][0] - t_ready
    boundaries = [recs[i + 1][0] - recs[i][1] for i in range(steps - 1)]
    shutil.rmtree(tdir, ignore_errors=True)
    return wake0, boundaries, t_end - t_ready


def wake_batch(ctx, impl, count):
    """`count` independent waiting entrypoints; the harness creates their wait files one by one.

    Latency = the command's first instruction (stamp) minus the moment just
    before the harness's open(O_CREAT) of the wait file.
    """
    tdir = ctx.new_dir(f"wake-{impl.key}")
    os.makedirs(os.path.join(tdir, "w"))
    stamps = [ctx.new_stamp_path(f"wake{i}") for i in range(count)]
    waits = [os.path.join(tdir, "w", f"f{i}") for i in range(count)]
    procs = []
    offsets = sorted(ctx.rng.random() for _ in range(count))
    t_base = time.monotonic()
    for i in range(count):
        delay = t_base + offsets[i] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.makedirs(os.path.join(tdir, "run", str(i)))
        argv = step_args(tdir, i, wait=waits[i], extra=["-entrypoint", ctx.stamp, "--", stamps[i]])
        procs.append(ctx.spawn(impl, argv, tdir))
    time.sleep(0.3)
    created = []
    order = list(range(count))
    ctx.rng.shuffle(order)
    for i in order:
        t0 = time.monotonic_ns()
        os.close(os.open(waits[i], os.O_WRONLY | os.O_CREAT, 0o644))
        created.append((i, t0))
        time.sleep(0.02 + 0.03 * ctx.rng.random())
    lat = []
    for i, p in enumerate(procs):
        ctx.reap(p, timeout=15)
        expect_exit(p, 0, f"waiter {i}")
    for i, t0 in created:
        r = stamp.read(stamps[i])
        if len(r) != 1:
            raise MeasureError(f"waiter {i} command ran {len(r)} times")
        lat.append(r[0][0] - t0)
    shutil.rmtree(tdir, ignore_errors=True)
    return lat


def bench_handoff(ctx, impl):
    chains = ctx.args.chains or (2 if ctx.quick else 20)
    if impl.old and ctx.quick:
        chains = 1
    wake0, bounds, totals = [], [], []
    for c in range(chains):
        w, b, t = chain_once(ctx, impl)
        wake0.append(w)
        bounds += b
        totals.append(t)
    wake = []
    per_batch = 20 if not ctx.quick else 10
    batches = 1 if (ctx.quick or ctx.args.chains) else 10
    for _ in range(batches):
        wake += wake_batch(ctx, impl, per_batch)
    return {
        "method": "chain of 10 (random start offsets in 1 s) + independent waiters",
        "chains": chains,
        "boundary_ns": bounds,
        "ready_wake_ns": wake0,
        "wake_ns": wake,
        "chain_total_ns": totals,
        "boundary": summary(bounds),
        "wake": summary(wake),
        "chain_total": summary(totals),
    }


def bench_cancel(ctx, impl):
    if impl.old:
        return {"skipped": "v0.37.2 has no cancellation watcher (added in v0.53)"}
    trials = 3 if ctx.quick else 20
    killed, gone, exited = [], [], []
    for _ in range(trials):
        tdir = ctx.new_dir(f"cancel-{impl.key}")
        root = ctx.reset_tekton(impl, tdir)
        os.makedirs(os.path.join(root, "downward"), exist_ok=True)
        cancel = os.path.join(root, "downward", "cancel")
        open(cancel, "wb").close()
        os.makedirs(os.path.join(tdir, "run", "0"))
        argv = step_args(tdir, 0, extra=["-entrypoint", ctx.sleep_bin, "--", "600"])
        p = ctx.spawn(impl, argv, tdir)
        child = None
        deadline = time.monotonic() + 10
        sleep_real = os.path.realpath(ctx.sleep_bin)
        while time.monotonic() < deadline and child is None:
            for pid in child_pids(p.pid):
                try:
                    if os.path.realpath(f"/proc/{pid}/exe") == sleep_real:
                        child = pid
                except OSError:
                    pass
            if p.poll() is not None:
                break
            time.sleep(0.005)
        if child is None:
            kill_tree(p)
            raise MeasureError(f"step command never started (log: {log_tail(p)})")
        pgid = os.getpgid(child)
        cfd = os.pidfd_open(child)
        time.sleep(0.2 + ctx.rng.random())  # random phase against a 1 s poll
        with open(cancel, "r+b", buffering=0) as f:
            t0 = time.monotonic_ns()
            f.write(b"CANCEL")
        poller = select.poll()
        poller.register(cfd, select.POLLIN)
        if not poller.poll(15_000):
            os.close(cfd)
            kill_tree(p)
            raise MeasureError("command still running 15 s after the cancel file got content")
        t1 = time.monotonic_ns()
        os.close(cfd)
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                break
            if time.monotonic_ns() - t1 > 15e9:
                kill_tree(p)
                raise MeasureError("step process group still present 15 s after the kill")
            time.sleep(0.0001)
        t2 = time.monotonic_ns()
        t3 = wait_exit_pidfd(p.pid, 15) or time.monotonic_ns()
        ctx.reap(p, 5)
        expect_exit(p, 9, "cancelled step")
        if not os.path.exists(os.path.join(tdir, "run", "0", "out.err")):
            raise MeasureError("cancelled step wrote no out.err")
        os.unlink(cancel)
        killed.append(t1 - t0)
        gone.append(t2 - t0)
        exited.append(t3 - t0)
        shutil.rmtree(tdir, ignore_errors=True)
    return {"trials": trials, "killed_ns": killed, "group_gone_ns": gone, "exited_ns": exited,
            "killed": summary(killed), "group_gone": summary(gone), "exited": summary(exited)}


# --------------------------------------------------------------------------- density

DENSITY_STEPS = 5
DENSITY_UID = 53535  # an unused uid: its inotify budget is the default 128, nobody else's


def density_uid():
    """The one uid every waiter of the density run runs as (root: a fresh uid; else ours)."""
    return DENSITY_UID if os.geteuid() == 0 else os.geteuid()


def inotify_instances(pid):
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def density_pods(ctx, impl, n, name, command):
    """`n` entrypoints as pods of DENSITY_STEPS steps, all running as one uid, started pod by
    pod and step by step (the kubelet's order). Step 0 waits for its pod's Downward-API style
    `ready`, step i for step i-1's post file. `command(pod, step)` is the step's argv.
    Returns [(pod dir, ready path, cancel path, [Popen])]."""
    uid = density_uid()
    base = tempfile.mkdtemp(prefix=f"{name}-{impl.key}-", dir=ctx.work)
    for d in (ctx.work, base):
        os.chmod(d, 0o755)
    os.chmod(ctx.stamp_dir, 0o1777)
    pods = []
    for p in range(n // DENSITY_STEPS):
        tdir = os.path.join(base, f"pod{p}")
        for sub in ("home", "term", "tekton/downward", *[f"run/{i}" for i in range(DENSITY_STEPS)]):
            os.makedirs(os.path.join(tdir, sub))
        ready = os.path.join(tdir, "tekton", "downward", "ready")
        open(ready, "wb").close()
        root = ctx.tekton_dir(impl, tdir)
        cancel = os.path.join(root, "downward", "cancel") if root else None
        if cancel and impl.ours:
            open(cancel, "wb").close()
        for dirpath, dirs, files in os.walk(tdir):
            for x in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                os.chown(x, uid, uid)
        pods.append([tdir, ready, cancel, []])
    kw = {"user": uid, "group": uid, "extra_groups": []} if os.geteuid() == 0 else {}
    for p, pod in enumerate(pods):
        tdir, ready = pod[0], pod[1]
        for i in range(DENSITY_STEPS):
            wait = ready if i == 0 else os.path.join(tdir, "run", str(i - 1), "out")
            argv = step_args(tdir, i, wait=wait, content=(i == 0),
                             extra=["-entrypoint", *command(p, i)])
            pod[3].append(ctx.spawn(impl, argv, tdir, **kw))
    return pods


def density_settle(pods, seconds):
    time.sleep(seconds)
    for pod in pods:
        for i, p in enumerate(pod[3]):
            if p.poll() is not None:
                raise MeasureError(f"waiting entrypoint {pod[0]} step {i} exited: {p.returncode} "
                                   f"(log: {log_tail(p)})")


def density_sample(ctx, impl, pods):
    """Which pods get triggered: all of ours, a random sample for 1 s pollers (time)."""
    limit = len(pods) if impl.ours and not impl.info.get("baseline") else (6 if ctx.quick else 20)
    order = list(range(len(pods)))
    ctx.rng.shuffle(order)
    return order[:limit]


def density_handoff(ctx, impl, n, window):
    stamps = {}

    def command(p, i):
        stamps[(p, i)] = ctx.new_stamp_path(f"d{p}-{i}")
        return [ctx.stamp, "--", stamps[(p, i)]]

    pods = density_pods(ctx, impl, n, "density", command)
    procs = [p for pod in pods for p in pod[3]]
    density_settle(pods, 2.0 + n / 250)
    held = [inotify_instances(p.pid) for p in procs]
    cpu0 = [proc_cpu_ns(p.pid) for p in procs]
    time.sleep(window)
    cpu1 = [proc_cpu_ns(p.pid) for p in procs]
    cpu10 = [(b - a) * 10 / window for a, b in zip(cpu0, cpu1)]
    ready_wake, boundaries = [], []
    for k in density_sample(ctx, impl, pods):
        tdir, ready, _, ps = pods[k]
        with open(ready, "r+b", buffering=0) as f:
            t_ready = time.monotonic_ns()
            f.write(b"READY")
        if wait_exit_pidfd(ps[-1].pid, timeout=DENSITY_STEPS * 3 + 10) is None:
            raise MeasureError(f"pod {k} did not finish")
        recs = []
        for i, p in enumerate(ps):
            ctx.reap(p, 10)
            expect_exit(p, 0, f"pod {k} step {i}")
            r = stamp.read(stamps[(k, i)]) if os.path.exists(stamps[(k, i)]) else []
            if len(r) != 1:
                raise MeasureError(f"pod {k} step {i} command ran {len(r)} times")
            recs.append(r[0])
        ready_wake.append(recs[0][0] - t_ready)
        boundaries += [recs[i + 1][0] - recs[i][1] for i in range(DENSITY_STEPS - 1)]
    return {
        "inotify_held": sum(held), "waiters_with_inotify": sum(1 for h in held if h),
        "cpu_per_10s_ns": cpu10, "cpu_per_10s": summary(cpu10),
        "ready_wake_ns": ready_wake, "ready_wake": summary(ready_wake),
        "boundary_ns": boundaries, "boundary": summary(boundaries),
        "pods_triggered": len(ready_wake),
    }


def density_cancel(ctx, impl, n):
    """Every pod's step 0 runs `sleep`, the other steps wait; then pods are cancelled. Ours:
    one pod at a time (each has its own cancel file). Upstream reads the cancel file from the
    fixed path /tekton/downward/cancel, shared by all its pods here: one write cancels all."""
    pods = density_pods(ctx, impl, n, "density-cancel",
                        lambda p, i: [ctx.sleep_bin, "--", "600"])
    for _, ready, _, _ in pods:
        with open(ready, "r+b", buffering=0) as f:
            f.write(b"READY")
    sleep_real = os.path.realpath(ctx.sleep_bin)
    children = {}
    deadline = time.monotonic() + 20 + n / 50
    while len(children) < len(pods) and time.monotonic() < deadline:
        for k, pod in enumerate(pods):
            if k in children:
                continue
            for pid in child_pids(pod[3][0].pid):
                try:
                    if os.path.realpath(f"/proc/{pid}/exe") == sleep_real:
                        children[k] = os.pidfd_open(pid)
                except OSError:
                    pass
        time.sleep(0.05)
    if len(children) < len(pods):
        raise MeasureError(f"only {len(children)} of {len(pods)} step commands started")
    density_settle(pods, 1.0)
    held = sum(inotify_instances(pod[3][0].pid) for pod in pods)

    def killed_after(fd, t0):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(15_000):
            raise MeasureError("step command still running 15 s after the cancel")
        return time.monotonic_ns() - t0

    lat = []
    if impl.ours:
        for k in density_sample(ctx, impl, pods):
            time.sleep(0.005 + 0.01 * ctx.rng.random())
            with open(pods[k][2], "r+b", buffering=0) as f:
                t0 = time.monotonic_ns()
                f.write(b"CANCEL")
            lat.append(killed_after(children[k], t0))
    else:
        cancel = pods[0][2]
        if cancel is None:
            raise MeasureError("needs /tekton (run as root with unshare for a private /tekton)")
        os.makedirs(os.path.dirname(cancel), exist_ok=True)
        with open(cancel, "wb", buffering=0) as f:
            t0 = time.monotonic_ns()
            f.write(b"CANCEL")
        # Wake-up order is the kill order: poll all and stamp each as it dies.
        left = dict(children)
        poller = select.poll()
        for fd in left.values():
            poller.register(fd, select.POLLIN)
        end = time.monotonic() + 30
        while left and time.monotonic() < end:
            for fd, _ in poller.poll(1000):
                lat.append(time.monotonic_ns() - t0)
                poller.unregister(fd)
                left = {k: v for k, v in left.items() if v != fd}
        if left:
            raise MeasureError(f"{len(left)} step commands still running 30 s after the cancel")
        os.unlink(cancel)
    for fd in children.values():
        os.close(fd)
    return {"running_steps": len(pods), "inotify_held_by_running": held,
            "cancel_ns": lat, "cancel": summary(lat),
            "method": "one pod at a time" if impl.ours else "one write cancels every pod"}


def bench_density(ctx, impl):
    if impl.old:
        return {"skipped": "v0.37.2 has no cancellation watcher; see v1.15.0"}
    sizes = [200] if ctx.quick else [200, 1000]
    window = 3.0 if ctx.quick else 10.0
    out = {"uid": density_uid(), "steps_per_pod": DENSITY_STEPS, "window_s": window}
    try:
        with open("/proc/sys/fs/inotify/max_user_instances") as f:
            out["max_user_instances"] = int(f.read())
    except OSError:
        pass
    for n in sizes:
        mem_need = n * (4 << 20 if not impl.ours else 1 << 20)  # private memory per waiter
        if mem_available() is not None and mem_available() < 2 * mem_need:
            out[str(n)] = {"skipped": f"needs ~{fmt_bytes(mem_need)} of memory"}
            continue
        log(f"density: {impl.key} N={n} hand-off ...")
        try:
            res = density_handoff(ctx, impl, n, window)
        finally:
            ctx.kill_all()
        log(f"density: {impl.key} N={n} cancel ...")
        try:
            res.update(density_cancel(ctx, impl, n))
        finally:
            ctx.kill_all()
        out[str(n)] = res
    return out


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def proc_cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def proc_status(pid):
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                vals[key] = int(rest.split()[0])
    return vals


def proc_memory(pid):
    """What one process costs on its own: RssAnon (its private anonymous pages) and PSS (every
    page it maps, each shared page divided among the processes mapping it), in bytes. VmRSS
    counts the binary's clean file pages in full in every process that maps them, though the
    page cache holds them once."""
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key == "RssAnon":
                vals["anon"] = int(rest.split()[0]) * 1024
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key == "Pss":
                vals["pss"] = int(rest.split()[0]) * 1024
    return vals


def bench_memory(ctx, impl):
    n = 20
    window = 2.0 if ctx.quick else 10.0
    tdir = ctx.new_dir(f"mem-{impl.key}")
    procs = []
    cg = MemoryCgroup(f"stepkit-bench-{impl.key}")
    try:
        for i in range(n):
            os.makedirs(os.path.join(tdir, "run", str(i)))
            argv = step_args(tdir, i, wait=os.path.join(tdir, "never", str(i)),
                             extra=["-entrypoint", ctx.stamp])
            procs.append(ctx.spawn(impl, argv, tdir, preexec_fn=cg.join if cg.path else None))
        time.sleep(1.0)
        for i, p in enumerate(procs):
            if p.poll() is not None:
                raise MeasureError(f"waiting entrypoint {i} exited: {p.returncode} (log: {log_tail(p)})")
        cpu0 = [proc_cpu_ns(p.pid) for p in procs]
        time.sleep(window)
        cpu1 = [proc_cpu_ns(p.pid) for p in procs]
        stats = [proc_status(p.pid) for p in procs]
        own = [proc_memory(p.pid) for p in procs]
        charged = {"cgroup_usage": cg.usage(), "cgroup_peak": cg.peak()} if cg.path else \
            {"cgroup_usage": None, "cgroup_peak": None, "cgroup_reason": cg.reason}
    finally:
        for p in procs:
            kill_tree(p)
            ctx.reap(p, 5)
        cg.remove()
    shutil.rmtree(tdir, ignore_errors=True)
    rss = [s["VmRSS"] * 1024 for s in stats]
    hwm = [s["VmHWM"] * 1024 for s in stats]
    anon = [m["anon"] for m in own]
    pss = [m["pss"] for m in own]
    cpu = [b - a for a, b in zip(cpu0, cpu1)]
    return {
        "processes": n, "window_s": window,
        "rss_bytes": rss, "hwm_bytes": hwm, "anon_bytes": anon, "pss_bytes": pss, "cpu_ns": cpu,
        "threads": [s.get("Threads") for s in stats],
        "one_rss": statistics.median(rss), "one_hwm": statistics.median(hwm),
        "one_anon": statistics.median(anon), "one_pss": statistics.median(pss),
        "one_cpu_ns": statistics.median(cpu),
        "total_rss": sum(rss), "total_hwm": sum(hwm), "total_anon": sum(anon), "total_pss": sum(pss),
        "total_cpu_ns": sum(cpu), **charged,
    }


def bench_startup(ctx, impl):
    runs = 30 if ctx.quick else 200
    lat, total = [], []
    tdir = ctx.new_dir(f"start-{impl.key}")
    os.makedirs(os.path.join(tdir, "run", "0"))
    for _ in range(runs):
        launch, child = ctx.new_stamp_path("launch"), ctx.new_stamp_path("child")
        argv = step_args(tdir, 0, extra=["-entrypoint", ctx.stamp, "--", child])
        out = open(os.path.join(tdir, "log.txt"), "wb")
        p = subprocess.Popen([ctx.stamp, launch, impl.path, *argv], env=impl.env(tdir), cwd=tdir,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        p.log_path = out.name
        ctx.children.append(p)
        ctx.reap(p, 15)
        t_exit = time.monotonic_ns()
        expect_exit(p, 0, "no-wait step")
        (_, l1), = stamp.read(launch)
        (c0, _), = stamp.read(child)
        lat.append(c0 - l1)
        total.append(t_exit - l1)
        os.unlink(launch)
        os.unlink(child)
        for name in ("out", "status"):
            pth = os.path.join(tdir, "run", "0", name)
            if os.path.isdir(pth):
                shutil.rmtree(pth)
            elif os.path.exists(pth):
                os.unlink(pth)
        os.unlink(os.path.join(tdir, "term", "0"))
    shutil.rmtree(tdir, ignore_errors=True)
    return {"runs": runs, "exec_to_child_ns": lat, "exec_to_exit_ns": total,
            "exec_to_child": summary(lat), "exec_to_exit": summary(total)}


class CpuQuota:
    """A private cgroup limited to 10 ms of CPU per 100 ms period (a `10m` Kubernetes limit)."""

    def __init__(self):
        self.path = None
        self.procs_file = None
        name = f"stepkit-bench-{os.getpid()}"
        v2 = "/sys/fs/cgroup"
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                has_cpu_v2 = "cpu" in f.read().split()
        except OSError:
            has_cpu_v2 = False
        try:
            if has_cpu_v2:
                self.path = os.path.join(v2, name)
                os.mkdir(self.path)
                with open(os.path.join(self.path, "cpu.max"), "w") as f:
                    f.write("1000 100000")
            elif os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):
                self.path = os.path.join("/sys/fs/cgroup/cpu", name)
                os.mkdir(self.path)
                with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                    f.write("100000")
                with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                    f.write("1000")
            else:
                self.error = "no cgroup cpu controller"
                return
            self.procs_file = os.path.join(self.path, "cgroup.procs")
            self.error = None
        except OSError as err:
            self.error = f"cannot create a CPU-limited cgroup: {err}"
            self.close()

    def enter(self):
        with open(self.procs_file, "w") as f:
            f.write(str(os.getpid()))

    def close(self):
        if self.path and os.path.isdir(self.path):
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def init_once(ctx, impl, quota=None):
    tdir = ctx.new_dir(f"init-{impl.key}")
    ctx.reset_tekton(impl, tdir)
    os.makedirs(os.path.join(tdir, "bin"))
    launch = ctx.new_stamp_path("init")
    dst = os.path.join(tdir, "bin", "entrypoint")
    out = open(os.path.join(tdir, "log.txt"), "wb")
    p = subprocess.Popen([ctx.stamp, launch, impl.path, "init", impl.path, dst, "step-a", "step-b"],
                         env=impl.env(tdir), cwd=tdir, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, preexec_fn=quota.enter if quota else None)
    out.close()
    p.log_path = out.name
    ctx.children.append(p)
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    ctx.children.remove(p)
    expect_exit(p, 0, "init")
    if os.path.getsize(dst) != os.path.getsize(impl.path):
        raise MeasureError("init copied a truncated binary")
    root = ctx.tekton_dir(impl, tdir)
    if not os.path.islink(os.path.join(root, "steps", "step-a")):
        raise MeasureError("init created no /tekton/steps/step-a symlink")
    (_, l1), = stamp.read(launch)
    os.unlink(launch)
    shutil.rmtree(tdir, ignore_errors=True)
    return t_exit - l1, int((ru.ru_utime + ru.ru_stime) * 1e9)


def bench_init(ctx, impl):
    runs = 5 if ctx.quick else 50
    wall, cpu = [], []
    for _ in range(runs):
        w, c = init_once(ctx, impl)
        wall.append(w)
        cpu.append(c)
    res = {"runs": runs, "wall_ns": wall, "cpu_ns": cpu, "wall": summary(wall), "cpu": summary(cpu)}
    if not ctx.args.no_quota:
        quota = CpuQuota()
        if quota.error:
            res["quota_skipped"] = quota.error
        else:
            try:
                qruns = 1 if ctx.quick else 5
                qwall, qcpu = [], []
                for _ in range(qruns):
                    w, c = init_once(ctx, impl, quota)
                    qwall.append(w)
                    qcpu.append(c)
                res.update({"quota": "10m (1 ms per 100 ms period)", "quota_wall_ns": qwall,
                            "quota_cpu_ns": qcpu, "quota_wall": summary(qwall)})
            finally:
                quota.close()
    return res


def result_value(rng, size):
    return "".join(rng.choice("0123456789abcdef") for _ in range(size))


def capacity_run(ctx, impl, names, values, compress):
    tdir = ctx.new_dir(f"cap-{impl.key}")
    root = ctx.reset_tekton(impl, tdir)
    rdir = os.path.join(root, "results")
    os.makedirs(rdir, exist_ok=True)
    for name, value in zip(names, values):
        with open(os.path.join(rdir, name), "w") as f:
            f.write(value)
    os.makedirs(os.path.join(tdir, "run", "0"))
    extra = ["-results", ",".join(names)]
    if compress:
        extra.append("-compress_termination_message=true")
    argv = step_args(tdir, 0, extra=extra + ["-entrypoint", ctx.stamp])
    p = ctx.spawn(impl, argv, tdir)
    ctx.reap(p, 15)
    ok = p.returncode == 0
    msg = None
    if ok:
        with open(os.path.join(tdir, "term", "0"), "rb") as f:
            msg = f.read()
    elif p.returncode != 1:
        raise MeasureError(f"{len(names)} results: unexpected exit {p.returncode} (log: {log_tail(p)})")
    shutil.rmtree(tdir, ignore_errors=True)
    return ok, msg


def capacity_search(ctx, impl, size, compress):
    rng = random.Random(size * 7 + 1)  # same values for every implementation
    names = [f"r{i}" for i in range(4097)]
    values = [result_value(rng, size) for _ in range(4097)]

    def fits(n):
        return capacity_run(ctx, impl, names[:n], values[:n], compress)[0]

    # Gallop from an estimate of what fits, then bisect: few runs per search.
    guess = max(1, min(4095, 4096 // (size + 30) * (2 if compress else 1)))
    if fits(guess):
        lo, step = guess, 1
        while lo + step <= 4096 and fits(lo + step):
            lo, step = lo + step, step * 2
        hi = min(lo + step, 4097)
    else:
        hi, step = guess, 1
        while hi - step >= 1 and not fits(hi - step):
            hi, step = hi - step, step * 2
        lo = max(hi - step, 0)
        if lo == 0:
            return 0, None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    _, msg = capacity_run(ctx, impl, names[:lo], values[:lo], compress)
    return lo, len(msg) if msg is not None else None


def bench_capacity(ctx, impl):
    res = {}
    for size in (64, 512):
        for compress in (False, True):
            key = f"{size}B_{'compressed' if compress else 'plain'}"
            if compress and impl.old:
                res[key] = {"skipped": "no -compress_termination_message in v0.37.2"}
                continue
            n, msg_len = capacity_search(ctx, impl, size, compress)
            res[key] = {"max_results": n, "message_bytes": msg_len}
    return res


def bench_sizes(ctx, release):
    res = {"binaries": {}, "images": {}}
    for impl in ctx.impls:
        if impl.path and os.path.exists(impl.path):
            res["binaries"][impl.key] = os.path.getsize(impl.path)
    spire = os.path.join(ctx.out_dir, "upstream", SPIRE, "entrypoint")
    if os.path.exists(spire):
        res["binaries"][SPIRE] = os.path.getsize(spire)
    if release:
        res["release"] = {}
        for name in ("entrypoint", "git-init", "workingdir-init", "creds-init", "nop"):
            p = os.path.join(release, name)
            if os.path.exists(p):
                res["release"][name] = os.path.getsize(p)
    img_dir = os.path.join(ctx.repo, "target", "images")
    if os.path.isdir(img_dir):
        for name in sorted(os.listdir(img_dir)):
            p = os.path.join(img_dir, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            gz = data if data[:2] == b"\x1f\x8b" else gzip.compress(data, 6)
            res["images"][name] = {"bytes": len(data), "gzip_bytes": len(gz)}
    return res


def bench_git(ctx, release):
    gdir = os.path.join(ctx.repo, "bench", "git")
    gitinit = os.path.join(release, "git-init") if release else None
    script = None
    if os.path.isdir(gdir):
        for cand in ("bench.py", "bench.sh", "run.sh", "run.py"):
            p = os.path.join(gdir, cand)
            if os.path.isfile(p):
                script = p
                break
    if script is None:
        return {"skipped": "bench/git missing"}
    if not gitinit or not os.path.exists(gitinit):
        return {"skipped": f"git-init binary not found in {release}"}
    out = os.path.join(ctx.out_dir, "git.json")
    if os.path.exists(out):
        os.unlink(out)
    cmd = [script, gitinit, out] + (["--quick"] if ctx.quick else [])
    if script.endswith(".py"):
        cmd = [sys.executable] + cmd
    elif not os.access(script, os.X_OK):
        cmd = ["bash"] + cmd
    log(f"running {os.path.relpath(script, ctx.repo)} ...")
    try:
        res = subprocess.run(cmd, cwd=ctx.repo, capture_output=True, text=True,
                             timeout=600 if ctx.quick else 3600)
    except subprocess.TimeoutExpired:
        return {"error": "bench/git timed out"}
    if res.returncode != 0 or not os.path.exists(out):
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        return {"error": f"bench/git failed (exit {res.returncode}): {' | '.join(tail)}"}
    with open(out) as f:
        return {"script": os.path.relpath(script, ctx.repo), "data": json.load(f)}


# --------------------------------------------------------------------------- report


def run_section(ctx, name, impl, fn):
    label = impl.key if impl else "-"
    log(f"{name}: {label} ...")
    t0 = time.monotonic()
    try:
        if impl is not None and not impl.ours and ctx.tekton_root:
            ctx.reset_tekton(impl, None)  # no stale cancel file or results from an earlier section
        res = fn()
    except MeasureError as err:
        log(f"{name}: {label} FAILED: {err}")
        res = {"error": str(err)}
    finally:
        ctx.kill_all()
    res["elapsed_s"] = round(time.monotonic() - t0, 2)
    return res


def cell(res, getter, fmt):
    if res is None:
        return "n/a"
    if "error" in res:
        return "failed"
    if "skipped" in res:
        return "n/a"
    try:
        v = getter(res)
    except (KeyError, TypeError):
        return "n/a"
    return fmt(v) if v is not None else "n/a"


def value_of(res, getter):
    if not res or "error" in res or "skipped" in res:
        return None
    try:
        return getter(res)
    except (KeyError, TypeError):
        return None


def density_table(ctx):
    """The density rows: one column per implementation, N waiting entrypoints as one uid."""
    R = ctx.results.get("density")
    if not R:
        return ""
    keys = [k for k in R if isinstance(R[k], dict) and "skipped" not in R[k]]
    labels = {i.key: i.label for i in ctx.impls + ctx.extra_impls}
    any_res = next((R[k] for k in keys if "error" not in R[k]), {})
    sizes = [n for n in ("200", "1000") if any(n in R[k] for k in keys)]
    header = ["Density: N waiting entrypoints as one uid, pods of "
              f"{DENSITY_STEPS} steps (max_user_instances "
              f"{any_res.get('max_user_instances', '?')})"] + [labels.get(k, k) for k in keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def pair(s):
        return "–" if not s else f"{fmt_ns(s['median'])} / {fmt_ns(s['p99'])}"

    metrics = [
        ("inotify instances held by the N waiters", lambda r: str(r["inotify_held"])),
        ("step hand-off: command i exits → command i+1 starts (p50 / p99)",
         lambda r: pair(r["boundary"]) + f" (n={r['boundary']['n']})"),
        ("Downward-API `ready` → step 0's command (p50 / p99)",
         lambda r: pair(r["ready_wake"]) + f" (n={r['ready_wake']['n']})"),
        ("running steps watching the cancel file; inotify instances among them",
         lambda r: f"{r['running_steps']}; {r['inotify_held_by_running']}"),
        ("cancel file written → step command killed (p50 / p99)",
         lambda r: pair(r["cancel"]) + f" (n={r['cancel']['n']}, {r['method']})"),
        ("CPU per waiting entrypoint per 10 s (median / max)",
         lambda r: f"{fmt_ns(r['cpu_per_10s']['median'])} / {fmt_ns(r['cpu_per_10s']['max'])}"),
    ]
    for n in sizes:
        lines.append(f"| **N = {n}** |" + " |" * len(keys))
        for name, get in metrics:
            cells = []
            for k in keys:
                res = R[k]
                if "error" in res:
                    cells.append("failed")
                    continue
                r = res.get(n)
                if r is None or "skipped" in r:
                    cells.append("n/a" if r is None else f"skipped: {r['skipped']}")
                    continue
                try:
                    cells.append(get(r))
                except (KeyError, TypeError):
                    cells.append("n/a")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_table(ctx):
    R = ctx.results
    keys = [i.key for i in ctx.impls]
    labels = {i.key: i.label for i in ctx.impls}
    cols = [k for k in (OURS, PRIMARY, OLD) if k in keys]
    rows = []

    def row(metric, section, getter, fmt, ratio=True):
        if section not in R:
            return
        res = {k: R.get(section, {}).get(k) for k in cols}
        cells = [cell(res[k], getter, fmt) for k in cols]
        r = "–"
        if ratio and OURS in cols and PRIMARY in cols:
            r = fmt_ratio(value_of(res[OURS], getter), value_of(res[PRIMARY], getter))
        rows.append([metric] + cells + [r])

    def med_p99(s):
        return None if s is None else (s["median"], s["p99"])

    def fmt_pair(v):
        return f"{fmt_ns(v[0])} / {fmt_ns(v[1])}"

    h = "handoff"
    if "handoff" in R:
        rows.append(["**Hand-off** (median / p99)"] + [""] * len(cols) + [""])
    row("post file appears → next command starts", h, lambda r: r["wake"]["median"], fmt_ns)
    row("  … p99", h, lambda r: r["wake"]["p99"], fmt_ns)
    row("step boundary: command N exits → command N+1 starts", h,
        lambda r: r["boundary"]["median"], fmt_ns)
    row("  … p99", h, lambda r: r["boundary"]["p99"], fmt_ns)
    row("10 no-op steps, ready → last step exits (median)", h,
        lambda r: r["chain_total"]["median"], fmt_ns)
    if "cancel" in R:
        rows.append(["**Cancellation**"] + [""] * len(cols) + [""])
    row("cancel file written → step process group gone (median)", "cancel",
        lambda r: r["group_gone"]["median"], fmt_ns)
    row("  … max", "cancel", lambda r: r["group_gone"]["max"], fmt_ns)
    row("cancel file written → entrypoint exited (exit 9, median)", "cancel",
        lambda r: r["exited"]["median"], fmt_ns)
    if "memory" in R:
        rows.append(["**Memory / CPU while waiting**"] + [""] * len(cols) + [""])
    # What a pod is charged, and each process's own share; VmRSS stays in results.json only.
    row("20-step pod (20 waiting): memory cgroup usage", "memory", lambda r: r["cgroup_usage"], fmt_bytes)
    row("  … cgroup peak", "memory", lambda r: r["cgroup_peak"], fmt_bytes)
    row("one waiting entrypoint: RssAnon (median)", "memory", lambda r: r["one_anon"], fmt_bytes)
    row("one waiting entrypoint: PSS (median, binary shared by 20)", "memory", lambda r: r["one_pss"], fmt_bytes)
    win = "2 s" if ctx.quick else "10 s"
    row(f"one waiting entrypoint: CPU over {win}", "memory", lambda r: r["one_cpu_ns"], fmt_ns)
    row(f"20-step pod: total CPU over {win}", "memory", lambda r: r["total_cpu_ns"], fmt_ns)
    if "startup" in R or "init" in R:
        rows.append(["**Start-up and init**"] + [""] * len(cols) + [""])
    row("exec entrypoint (no wait) → child exec (median)", "startup",
        lambda r: r["exec_to_child"]["median"], fmt_ns)
    row("  … p99", "startup", lambda r: r["exec_to_child"]["p99"], fmt_ns)
    row("exec → entrypoint exit, no-op step (median)", "startup",
        lambda r: r["exec_to_exit"]["median"], fmt_ns)
    row("`init` (copy binary + 2 step links): wall (median)", "init",
        lambda r: r["wall"]["median"], fmt_ns)
    row("`init`: CPU time (median)", "init", lambda r: r["cpu"]["median"], fmt_ns)
    row("`init` under a 10m CPU limit: wall (median)", "init",
        lambda r: r["quota_wall"]["median"], fmt_ns)
    if "sizes" in R:
        rows.append(["**Sizes**"] + [""] * len(cols) + [""])
        sizes = R["sizes"].get("binaries", {})
        cells = [fmt_bytes(sizes.get(k)) if k in sizes else "n/a" for k in cols]
        r = fmt_ratio(sizes.get(OURS), sizes.get(PRIMARY)) if OURS in sizes and PRIMARY in sizes else "–"
        rows.append(["entrypoint binary (static)"] + cells + [r])
        if SPIRE in sizes and PRIMARY in cols:
            cells = ["" if k != PRIMARY else f"{fmt_bytes(sizes[SPIRE])} (SPIRE built in)" for k in cols]
            rows.append(["entrypoint binary, upstream release tags"] + cells
                        + [fmt_ratio(sizes.get(OURS), sizes[SPIRE]) if OURS in sizes else "–"])
        for name, size in R["sizes"].get("release", {}).items():
            if name != "entrypoint" and OURS in cols:
                cells = [fmt_bytes(size) if k == OURS else "" for k in cols]
                rows.append([f"stepkit `{name}` binary (static)"] + cells + ["–"])
        for name, info in sorted(R["sizes"].get("images", {}).items()):
            cells = [f"{fmt_bytes(info['gzip_bytes'])} gz" if k == OURS else "n/a" for k in cols]
            rows.append([f"image `{name}` (compressed)"] + cells + ["–"])
    if "capacity" in R:
        rows.append(["**Termination message capacity** (max results, exit 0)"]
                    + [""] * len(cols) + [""])
        for size in (64, 512):
            for comp in ("plain", "compressed"):
                key = f"{size}B_{comp}"
                res = {k: R["capacity"].get(k) for k in cols}
                cells = []
                for k in cols:
                    c = res[k]
                    if c is None:
                        cells.append("n/a")
                    elif "error" in c:
                        cells.append("failed")
                    elif key not in c or "skipped" in c[key]:
                        cells.append("n/a")
                    else:
                        cells.append(str(c[key]["max_results"]))
                note = "–"
                if OURS in cols and PRIMARY in cols:
                    a = value_of(res[OURS], lambda r: r[key]["max_results"])
                    b = value_of(res[PRIMARY], lambda r: r[key]["max_results"])
                    if a is not None and b is not None:
                        note = "equal" if a == b else f"{a - b:+d}"
                rows.append([f"{size}-byte hex results, {comp}"] + cells + [note])
    if "git" in R:
        git = R["git"]
        rows.append(["**git-init vs `git` CLI** (bench/git; 2nd column: the git CLI running "
                     "upstream git-init's command sequence)"] + [""] * len(cols) + [""])
        if "skipped" in git or "error" in git:
            rows.append([f"skipped: {git['skipped']}" if "skipped" in git else f"failed: {git['error']}"]
                        + [""] * len(cols) + [""])
        else:
            rows += git_rows(git.get("data"), cols)
    header = ["Metric"] + [labels[k] for k in cols] + [f"stepkit ÷ {PRIMARY}" if PRIMARY in cols else "ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def git_rows(data, cols):
    """Rows from bench/git's JSON: `results` entries {repo, depth, tool, wall_s, cgroup_peak_kib}
    (max_rss_kib, GNU time's largest process, stays in the JSON only).

    The stepkit column holds git-init's figure, the next one the same clone done with the git
    CLI running upstream git-init's command sequence; the ratio is git-init ÷ git."""
    def cells(ours, base):
        if len(cols) >= 2:
            return [ours, base] + [""] * (len(cols) - 2)
        return [f"{ours} ({base})"]

    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return [["(unrecognised bench/git output, see results.json)", *cells("", ""), "–"]]

    def get(repo, depth, tool, key):
        for r in results:
            if r.get("repo") == repo and r.get("depth") == depth and r.get("tool") == tool:
                return r.get(key)
        return None

    out = []
    seen = []
    for r in results:
        key = (r.get("repo"), r.get("depth"))
        if key not in seen:
            seen.append(key)
    for repo, depth in seen:
        where = f"clone {repo}, {'depth 1' if depth == 1 else 'full' if depth == 0 else f'depth {depth}'}"
        gi, gs = get(repo, depth, "git-init", "wall_s"), get(repo, depth, "git-sequence", "wall_s")
        if gi is not None and gs is not None:
            out.append([f"{where}: wall (median)", *cells(fmt_ns(gi * 1e9), f"git: {fmt_ns(gs * 1e9)}"),
                        fmt_ratio(gi, gs)])
        gi, gs = get(repo, depth, "git-init", "cgroup_peak_kib"), get(repo, depth, "git-sequence", "cgroup_peak_kib")
        if gi is not None and gs is not None:
            out.append([f"{where}: memory cgroup peak (process tree, written files included)",
                        *cells(fmt_bytes(gi * 1024), f"git: {fmt_bytes(gs * 1024)}"), fmt_ratio(gi, gs)])
    return out


def handoff_target(R):
    """Informational check of the hand-off goal (< 1 ms median, p99 < 5 ms); never fails the run."""
    res = R.get("handoff", {}).get(OURS)
    if not res or "error" in res or not res.get("wake"):
        return None
    med, p99 = res["wake"]["median"], res["wake"]["p99"]
    ok = med < 1e6 and p99 < 5e6
    return (f"hand-off goal (post file → command start < 1 ms median, p99 < 5 ms): "
            f"{'met' if ok else 'NOT met'} ({fmt_ns(med)} / {fmt_ns(p99)})")


def handoff_svg(ctx):
    series = []
    for impl in ctx.impls:
        res = ctx.results.get("handoff", {}).get(impl.key)
        if not res or "error" in res:
            continue
        series.append((f"{impl.label}: command N exit → command N+1 start "
                       f"(n={len(res['boundary_ns'])})", res["boundary_ns"], False))
        series.append((f"{impl.label}: post file appears → command starts "
                       f"(n={len(res['wake_ns'])})", res["wake_ns"], True))
    mode = "quick" if ctx.quick else "full"
    sub = f"{platform.node()} · {os.cpu_count()} CPUs · {ctx.results['meta']['date']} · {mode} run"
    return svgplot.cdf_svg("Step hand-off latency: stepkit vs Tekton entrypoint", series, sub)


def meta(ctx, release):
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ctx.repo,
                                  timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if ctx.quick else "full",
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(), "cpu": cpu,
        "stepkit_commit": run(["git", "rev-parse", "--short", "HEAD"]),
        "release_dir": release, "python": platform.python_version(),
        "private_tekton": ctx.tekton_root is not None,
        "seed": ctx.args.seed,
        "loadavg_start": os.getloadavg(),
        "implementations": {i.key: {"label": i.label, "path": i.path, **i.info} for i in ctx.impls},
    }


# --------------------------------------------------------------------------- main


def setup_impls(ctx, release, wanted):
    ours = os.path.join(release, "entrypoint") if release else None
    if wanted and OURS not in wanted:
        pass
    elif ours and os.path.isfile(ours) and os.access(ours, os.X_OK):
        ctx.impls.append(Impl(OURS, "stepkit", os.path.abspath(ours), True))
    else:
        ctx.notes.append(f"stepkit entrypoint not found at {ours}; showing upstream figures only")
    cache = os.path.join(ctx.out_dir, "upstream")
    if ctx.args.no_upstream:
        ctx.notes.append("upstream baselines disabled (--no-upstream)")
        return
    for key in (PRIMARY, OLD, SPIRE):
        if wanted and key not in wanted:
            continue
        path, info = upstream.ensure(key, cache, log)
        if path is None:
            ctx.notes.append(f"no upstream {key} baseline: {info}")
            log(f"upstream {key}: {info}")
            continue
        if key != SPIRE:
            ctx.impls.append(Impl(key, f"Tekton {key}", path, False, info))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", nargs="?", help="dir with stepkit's static binaries")
    ap.add_argument("--quick", action="store_true", help="few trials (CI); ~3 min")
    ap.add_argument("--only", default="", help="comma list of sections "
                    "(handoff,cancel,memory,startup,init,capacity,sizes,git,density)")
    ap.add_argument("--impls", default="", help="comma list of implementations to run")
    ap.add_argument("--chains", type=int, default=0, help="override the number of chains")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--no-upstream", action="store_true", help="do not build/run upstream")
    ap.add_argument("--no-quota", action="store_true", help="skip the CPU-quota init run")
    ap.add_argument("--tekton-ns", action="store_true",
                    help="(set by bench.sh) /tekton is a private tmpfs in this mount namespace")
    ap.add_argument("--density-baseline", default="",
                    help="another stepkit entrypoint (e.g. main's) for the density section")
    ap.add_argument("--svg-copy", default="", help="also write the SVG here (docs/bench-handoff.svg)")
    args = ap.parse_args()
    release = os.path.abspath(args.release) if args.release else None
    ctx = Ctx(args)
    try:
        setup_impls(ctx, release, args.impls.split(",") if args.impls else [])
        if ctx.tekton_root is None:
            ctx.notes.append("no private /tekton (needs root + unshare): upstream cancel, init and "
                             "capacity measurements skipped")
        sections = args.only.split(",") if args.only else [
            "handoff", "cancel", "memory", "startup", "init", "capacity", "sizes", "git", "density"]
        R = ctx.results
        R["meta"] = meta(ctx, release)
        per_impl = {
            "handoff": bench_handoff, "cancel": bench_cancel, "memory": bench_memory,
            "startup": bench_startup, "init": bench_init, "capacity": bench_capacity,
            "density": bench_density,
        }
        if args.density_baseline:
            ctx.extra_impls.append(Impl("stepkit-main", "stepkit before (main)",
                                        os.path.abspath(args.density_baseline), True,
                                        {"baseline": True}))
        for section in sections:
            if section in per_impl:
                R[section] = {}
                extra = ctx.extra_impls if section == "density" else []
                for impl in ctx.impls[:1] + extra + ctx.impls[1:]:
                    R[section][impl.key] = run_section(
                        ctx, section, impl, lambda f=per_impl[section], i=impl: f(ctx, i))
            elif section == "sizes":
                R["sizes"] = bench_sizes(ctx, release)
            elif section == "git":
                R["git"] = run_section(ctx, "git", None, lambda: bench_git(ctx, release))
            elif section:
                raise SystemExit(f"unknown section {section!r}")
        R["meta"]["loadavg_end"] = os.getloadavg()
        R["notes"] = ctx.notes
        table = build_table(ctx)
        R["table_markdown"] = table
        dtable = density_table(ctx)
        if dtable:
            R["density_table_markdown"] = dtable
        with open(os.path.join(ctx.out_dir, "results.json"), "w") as f:
            json.dump(R, f, indent=1)
        if "handoff" in R:
            svg = handoff_svg(ctx)
            with open(os.path.join(ctx.out_dir, "handoff.svg"), "w") as f:
                f.write(svg)
            if args.svg_copy:
                with open(args.svg_copy, "w") as f:
                    f.write(svg)
        m = R["meta"]
        print(f"## stepkit vs Tekton entrypoint — {m['mode']} run, {m['date']}\n")
        print(f"Host: {m['cpus']} × {m['cpu']}, Linux {m['kernel']}; stepkit {m['stepkit_commit']}; "
              f"load average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end.\n")
        print(table)
        if dtable:
            print("\n" + dtable)
        target = handoff_target(R)
        if target:
            print(f"\n- {target}")
        for note in ctx.notes:
            print(f"- note: {note}")
        errors = [(s, k, v["error"]) for s, per in R.items() if isinstance(per, dict)
                  for k, v in per.items() if isinstance(v, dict) and "error" in v]
        for s, k, e in errors:
            print(f"- failed: {s} / {k}: {e}")
        print(f"\nRaw data: {os.path.relpath(os.path.join(ctx.out_dir, 'results.json'), os.getcwd())}")
        return 0
    finally:
        ctx.cleanup()


if __name__ == "__main__":
    sys.exit(main())
