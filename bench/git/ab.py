#!/usr/bin/env python3
"""Side by side: builds of git-init cloning the same repositories, for keep-or-delete decisions.

Each clone runs in a memory cgroup of its own (bench/cgroup.py); reported per build and
repository: median wall time, the cgroup's peak (what a pod's limit counts) and the peak of its
anonymous memory (the cgroup's `rss`/`anon`, sampled every 5 ms: heap and stacks, not the
binary's or the written files' page cache). Repositories are real projects' histories (local
bare mirrors, e.g. from `git clone --mirror`; never committed) and/or a synthetic one.

usage: ab.py [--repo NAME=BARE_REPO]... [--synthetic FILES] [--depth N]... [--trials N]
             LABEL=GIT_INIT_BINARY...
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import Daemon, make_repo, read_into_page_cache, scratch  # noqa: E402
from cgroup import MemoryCgroup  # noqa: E402


def anon_bytes(cg):
    """Anonymous memory charged to the cgroup now."""
    key = "anon" if cg.v2 else "total_rss"
    with open(os.path.join(cg.path, "memory.stat")) as f:
        for line in f:
            k, v = line.split()
            if k == key:
                return int(v)
    return 0


def clone(binary, url, out, depth, env):
    """One clone; returns (wall s, cgroup peak KiB, anonymous peak KiB)."""
    cg = MemoryCgroup("stepkit-git-ab")
    if not cg.path:
        sys.exit(cg.reason)
    peak_anon, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak_anon[0] = max(peak_anon[0], anon_bytes(cg))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    try:
        sampler.start()
        start = time.monotonic()
        r = subprocess.run([binary, f"-url={url}", f"-path={out}", f"-depth={depth}",
                            f"-terminationMessagePath={out}.term"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=cg.join)
        wall = time.monotonic() - start
        done.set()
        sampler.join()
        if r.returncode != 0:
            sys.exit(f"{binary} failed: {r.stderr.decode(errors='replace')[-2000:]}")
        return wall, cg.peak() // 1024, peak_anon[0] // 1024
    finally:
        done.set()
        cg.remove()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", metavar="LABEL=BINARY")
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=BARE_REPO")
    ap.add_argument("--synthetic", type=int, metavar="FILES")
    ap.add_argument("--depth", type=int, action="append")
    ap.add_argument("--trials", type=int, default=3)
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.builds]
    for _, binary in builds:
        read_into_page_cache(binary)
    work, env, srv = scratch("stepkit-git-ab-")
    try:
        names = []
        for spec in a.repo:
            name, path = spec.split("=", 1)
            os.symlink(os.path.abspath(path), os.path.join(srv, name))
            names.append(name)
        if a.synthetic:
            name = f"synthetic-{a.synthetic}"
            make_repo(env, os.path.join(srv, name), a.synthetic)
            names.append(name)
        daemon = Daemon(srv, env)
        print("| repository | depth | build | wall (s) | cgroup peak (MiB) | anon peak (MiB) |")
        print("|---|---|---|---|---|---|")
        try:
            for name in names:
                for depth in a.depth or [1, 0]:
                    for label, binary in builds:
                        rows = []
                        for t in range(a.trials):
                            out = os.path.join(work, "out", f"{name}-{depth}-{label}-{t}")
                            os.makedirs(os.path.dirname(out), exist_ok=True)
                            rows.append(clone(os.path.abspath(binary), daemon.url(name), out,
                                              depth, env))
                            shutil.rmtree(out, ignore_errors=True)
                        wall = statistics.median(r[0] for r in rows)
                        peak = max(r[1] for r in rows) / 1024
                        anon = max(r[2] for r in rows) / 1024
                        print(f"| {name} | {depth or 'full'} | {label} | {wall:.3f} | {peak:.1f} "
                              f"| {anon:.1f} |", flush=True)
        finally:
            daemon.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
