#!/usr/bin/env python3
"""Clone benchmark: stepkit git-init versus the git CLI.

Generates repositories with the git CLI (1k and 20k files, each with and without a
submodule, a few commits of history), serves them with `git daemon` on 127.0.0.1 and measures
wall time and peak RSS of

  * git-init      the binary under test (`-url -path -depth`, submodules on, like the Task)
  * git-sequence  upstream git-init's command sequence with the git CLI
                  (init, remote add, fetch --depth --update-head-ok --force, checkout -f,
                  submodule update --recursive --init --force --depth)
  * git-clone     `git clone [--depth=N] --recurse-submodules` for reference

for depth 1 and a full clone. Memory is what the run's memory cgroup peaks at (bench/cgroup.py:
the whole process tree, and the page cache of the files it writes, the same for every tool),
as a pod's limit counts it, with every binary already in the page cache. GNU time's %M (the largest process's RSS, counting its binary's
file pages) is kept in the JSON as max_rss_kib.

Usage: bench.py GIT_INIT_BINARY OUT.json [--quick] [--trials N] [--keep]
Prints a Markdown table on stdout and writes the raw numbers as JSON.
Requires: git with `git daemon` (Debian: git; time for /usr/bin/time).
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cgroup import MemoryCgroup  # noqa: E402

GIT_ENV_KEYS_TO_DROP = (
    "GIT_DIR", "GIT_WORK_TREE", "XDG_CONFIG_HOME", "http_proxy", "https_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "SSH_AUTH_SOCK",
)


def clean_env(home):
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_KEYS_TO_DROP}
    env.update({
        "HOME": home,
        "GIT_CONFIG_GLOBAL": os.path.join(home, ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
        # No background auto-gc racing with the copies and the measurements.
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "gc.auto", "GIT_CONFIG_VALUE_0": "0",
    })
    return env


def read_into_page_cache(path):
    """Reads a binary whole, so no measured run's cgroup is charged its first read (the git
    CLI's pages are already cached: it built the repositories)."""
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def scratch(prefix):
    """A temporary directory with a clean git HOME and an empty `srv/` to serve; returns
    (directory, environment, srv)."""
    work = tempfile.mkdtemp(prefix=prefix)
    home = os.path.join(work, "home")
    os.makedirs(home)
    srv = os.path.join(work, "srv")
    os.makedirs(srv)
    return work, clean_env(home), srv


def git(env, cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_repo(env, path, files, commits=5):
    os.makedirs(path)
    git(env, path, "init", "-q", "-b", "main")
    per_dir = 100
    for i in range(files):
        d = os.path.join(path, "src", f"d{i // per_dir:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
            # ~1 KiB of mostly unique text per file.
            f.write((f"file {i} line {{}} " * 4 + "\n").format(*range(4)) * 12)
    git(env, path, "add", "-A")
    git(env, path, "commit", "-q", "-m", "initial")
    for c in range(1, commits):
        for i in range(0, files, max(1, files // 100)):
            p = os.path.join(path, "src", f"d{i // per_dir:04d}", f"f{i:06d}.txt")
            with open(p, "a") as f:
                f.write(f"change {c}\n")
        git(env, path, "commit", "-q", "-am", f"change {c}")
    # Served repositories are packed, as on a real server.
    git(env, path, "repack", "-adq")


def add_submodule(env, repo, sub_name):
    git(env, repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q",
        f"../{sub_name}", "vendor/lib")
    git(env, repo, "commit", "-q", "-m", "add submodule")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """`git-daemon` itself (not the `git` wrapper, whose kill would orphan the daemon), in a
    session of its own so stop() also ends its per-connection children."""

    def __init__(self, base, env):
        self.port = free_port()
        exec_path = subprocess.run(["git", "--exec-path"], env=env, capture_output=True,
                                   text=True, check=True).stdout.strip()
        self.proc = subprocess.Popen(
            [os.path.join(exec_path, "git-daemon"), "--reuseaddr", f"--base-path={base}",
             "--export-all", "--listen=127.0.0.1", f"--port={self.port}", base],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError("git daemon did not start")
                time.sleep(0.05)

    def url(self, name):
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(argv, env, cwd):
    """Runs argv in a memory cgroup of its own; returns (wall seconds, peak RSS KiB, CPU seconds
    user+sys, the cgroup's peak KiB or None without a memory cgroup)."""
    cg = MemoryCgroup("stepkit-git-bench")
    try:
        wall, rss, cpu = measure_process(argv, env, cwd, cg.join if cg.path else None)
        return wall, rss, cpu, (cg.peak() // 1024 if cg.path else None)
    finally:
        cg.remove()


def measure_process(argv, env, cwd, preexec_fn):
    """Runs argv; returns (wall seconds, peak RSS KiB, CPU seconds user+sys)."""
    if GNU_TIME:
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            start = time.monotonic()
            r = subprocess.run([GNU_TIME, "-o", tf.name, "-f", "%e %M %U %S", *argv], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
            wall = time.monotonic() - start
            if r.returncode != 0:
                raise RuntimeError(f"{argv[0]} failed: {r.stderr.decode(errors='replace')[-2000:]}")
            _, rss, user, sys_ = tf.read().strip().splitlines()[-1].split()
            return wall, int(rss), float(user) + float(sys_)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = ru0.ru_maxrss
    start = time.monotonic()
    r = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       preexec_fn=preexec_fn)
    wall = time.monotonic() - start
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.decode(errors='replace')[-2000:]}")
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # RUSAGE_CHILDREN is a high-water mark over all children: only an upper bound.
    return wall, max(ru1.ru_maxrss, before), cpu


def git_sequence_script(url, out, depth):
    d = f" --depth={depth}" if depth > 0 else ""
    unset = "git config --unset remote.origin.fetch && " if depth > 0 else ""
    return (
        f"set -e; git init -q '{out}' && cd '{out}' && git remote add origin '{url}' && {unset}"
        f"git fetch -q --recurse-submodules=yes{d} origin --update-head-ok --force '' && "
        f"git checkout -q -f FETCH_HEAD && git submodule -q update --recursive --init --force{d}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("out_json")
    ap.add_argument("--quick", action="store_true", help="1 trial, small repositories only")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"not executable: {binary}")
    if shutil.which("git") is None:
        sys.exit("git CLI not installed")
    trials = 1 if a.quick else a.trials
    # Pages read first inside a run's cgroup would be charged to that run only (a fresh
    # build's first clone showed 13.8 MiB instead of ~6.7).
    read_into_page_cache(binary)
    sizes = [("1k", 1000)] if a.quick else [("1k", 1000), ("20k", 20000)]

    work, env, srv = scratch("stepkit-git-bench-")
    try:
        repos = []
        for label, n in sizes:
            print(f"generating {label} repositories ...", file=sys.stderr)
            make_repo(env, os.path.join(srv, f"r{label}"), n)
            make_repo(env, os.path.join(srv, f"lib{label}"), max(10, n // 10), commits=3)
            git(env, srv, "clone", "-q", "--no-local", f"r{label}", f"r{label}-sub")
            add_submodule(env, os.path.join(srv, f"r{label}-sub"), f"lib{label}")
            git(env, os.path.join(srv, f"r{label}-sub"), "repack", "-adq")
            repos.append((f"{label} files", f"r{label}", n, False))
            repos.append((f"{label} files + submodule", f"r{label}-sub", n, True))
        daemon = Daemon(srv, env)
        results = []
        try:
            for title, name, files, has_sub in repos:
                url = daemon.url(name)
                for depth in (1, 0):
                    for tool in ("git-init", "git-sequence", "git-clone"):
                        walls, rsss, cpus, peaks = [], [], [], []
                        for t in range(trials):
                            out = os.path.join(work, "out", f"{name}-{depth}-{tool}-{t}")
                            os.makedirs(os.path.dirname(out), exist_ok=True)
                            if tool == "git-init":
                                argv = [binary, f"-url={url}", f"-path={out}", f"-depth={depth}",
                                        f"-terminationMessagePath={out}.term"]
                            elif tool == "git-sequence":
                                argv = ["bash", "-c", git_sequence_script(url, out, depth)]
                            else:
                                argv = ["git", "clone", "-q", "--recurse-submodules"]
                                if depth > 0:
                                    argv += [f"--depth={depth}", "--shallow-submodules"]
                                argv += [url, out]
                            wall, rss, cpu, peak = measure(argv, env, work)
                            peaks.append(peak)
                            cpus.append(cpu)
                            walls.append(wall)
                            rsss.append(rss)
                            shutil.rmtree(out, ignore_errors=True)
                        results.append({
                            "repo": title, "files": files, "submodule": has_sub, "depth": depth,
                            "tool": tool, "trials": trials,
                            "wall_s": round(statistics.median(walls), 3),
                            "wall_s_all": [round(w, 3) for w in walls],
                            "max_rss_kib": max(rsss),
                            "cgroup_peak_kib": None if None in peaks else max(peaks),
                            "cpu_s": round(statistics.median(cpus), 3),
                        })
                        print(f"  {title} depth={depth} {tool}: {statistics.median(walls):.3f}s, cgroup peak "
                              f"{results[-1]['cgroup_peak_kib']} KiB", file=sys.stderr)
        finally:
            daemon.stop()
    finally:
        if a.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    with open(a.out_json, "w") as f:
        json.dump({"benchmark": "git-clone", "binary": binary,
                   "rss_source": "GNU time %M" if GNU_TIME else "getrusage(RUSAGE_CHILDREN)",
                   "results": results}, f, indent=2)
        f.write("\n")

    def get(repo, depth, tool, key):
        for r in results:
            if r["repo"] == repo and r["depth"] == depth and r["tool"] == tool:
                return r[key]
        return None

    print("| repository | depth | git-init wall (s) | git sequence wall (s) | git clone wall (s) "
          "| git-init CPU (s) | git sequence CPU (s) "
          "| git-init cgroup peak (MiB) | git sequence cgroup peak (MiB) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for title, _, _, _ in repos:
        for depth in (1, 0):
            gi_w = get(title, depth, "git-init", "wall_s")
            gs_w = get(title, depth, "git-sequence", "wall_s")
            gc_w = get(title, depth, "git-clone", "wall_s")
            gi_m = get(title, depth, "git-init", "cgroup_peak_kib")
            gs_m = get(title, depth, "git-sequence", "cgroup_peak_kib")
            gi_c = get(title, depth, "git-init", "cpu_s")
            gs_c = get(title, depth, "git-sequence", "cpu_s")
            ratio = f"{gi_m / gs_m:.2f}" if gi_m and gs_m else "-"
            mib = lambda kib: f"{kib / 1024:.1f}" if kib is not None else "-"
            print(f"| {title} | {depth if depth else 'full'} | {gi_w:.3f} | {gs_w:.3f} | {gc_w:.3f} "
                  f"| {gi_c:.2f} | {gs_c:.2f} "
                  f"| {mib(gi_m)} | {mib(gs_m)} | {ratio} |")


if __name__ == "__main__":
    main()
