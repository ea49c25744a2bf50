#!/usr/bin/env python3
"""Regenerates crates/git-init/link-order.txt: the order of git-init's functions in its binary.

The kernel maps executable pages in 64 KiB windows (fault-around), so a phase that calls
functions scattered over the 5 MiB of text keeps most of it resident. Linking with this list
(`lld --symbol-ordering-file`) puts the code a clone runs next to each other: first the hot
core (functions called in many of the intervals between two code releases: the receive and
checkout loops, malloc, memcpy), then everything else in first-call order, phase by phase:
start-up, fetch, checkout, submodules. `make link-order` runs this script.

Usage: gen.py PROGRAM MAP OUT
  PROGRAM  the stripped release git-init, linked with -Wl,-Map=MAP
  MAP      lld's map file (linked with --no-demangle: the ordering file needs symbol names
           as the linker sees them): input sections (.text.<symbol>), symbols, addresses
It builds ftrace.c, generates repositories with the git CLI (bench/git/bench.py's fixtures),
serves them with `git daemon` and traces clones of each kind under ftrace.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "git"))
import bench  # noqa: E402

CODE_SECTIONS = {".text", ".init", ".fini", ".iplt", "__libc_freeres_fn"}
# Called in at least this many intervals (over all runs): part of the hot core.
HOT_INTERVALS = 12
PREFIXES = (".text.unlikely.", ".text.hot.", ".text.startup.", ".text.exit.", ".text.")


def parse_map(path):
    """(address, name) of every function entry in the map's code sections. Symbol lines name
    what they mark; an input section without one (`file:(.text.<symbol>)`, where lld lists no
    local symbols) is named after its section."""
    named = {}
    out_col = in_col = None
    current = None
    with open(path) as f:
        for line in f:
            if out_col is None:
                out_col, in_col = line.index("Out"), line.index("In ")
                continue
            fields = line.split()
            if len(fields) < 5:
                continue
            # The column of the fifth field tells output section, input section or symbol.
            col = line.index(fields[4], len(" ".join(fields[:4])))
            addr = int(fields[0], 16)
            name = " ".join(fields[4:])
            if col <= out_col:
                current = name
            elif current not in CODE_SECTIONS:
                continue
            elif col <= in_col:
                sect = name[name.rfind(":(") + 2:-1] if name.endswith(")") else ""
                for p in PREFIXES:
                    if sect.startswith(p):
                        named.setdefault(addr, (False, sect[len(p):]))
                        break
            elif not named.get(addr, (False, ""))[0]:
                named[addr] = (True, name)
    return sorted((addr, name) for addr, (_, name) in named.items())


def code_offsets(program):
    """(vaddr, offset, size) of the executable LOAD segments."""
    segs = []
    out = subprocess.run(["readelf", "-lW", program], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in "".join(f[6:-1]):
            segs.append((int(f[2], 16), int(f[1], 16), int(f[4], 16)))
    return segs


def main():
    program, map_path, out_path = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="stepkit-link-order-")
    try:
        ftrace = os.path.join(work, "ftrace")
        subprocess.run(["gcc", "-O2", "-o", ftrace, os.path.join(HERE, "ftrace.c")], check=True)
        segs = code_offsets(program)
        symbols = os.path.join(work, "symbols")
        n = 0
        with open(symbols, "w") as f:
            for addr, name in parse_map(map_path):
                for va, off, size in segs:
                    if va <= addr < va + size:
                        f.write(f"{addr:x} {addr - va + off:x} {name}\n")
                        n += 1
                        break
        print(f"{n} function entries", file=sys.stderr)

        home = os.path.join(work, "home")
        os.makedirs(home)
        env = bench.clean_env(home)
        srv = os.path.join(work, "srv")
        os.makedirs(srv)
        bench.make_repo(env, os.path.join(srv, "r"), 1000)
        bench.make_repo(env, os.path.join(srv, "lib"), 50, commits=3)
        bench.git(env, srv, "clone", "-q", "--no-local", "r", "r-sub")
        bench.add_submodule(env, os.path.join(srv, "r-sub"), "lib")
        daemon = bench.Daemon(srv, env)
        runs = [
            ("r", ["-depth", "1"]),
            ("r", ["-depth", "0"]),
            ("r-sub", ["-depth", "1"]),
            ("r", ["-depth", "1", "-sparseCheckoutDirectories", "src"]),
            ("r", ["-revision", "no-such-branch", "-depth", "1"]),
        ]
        first, intervals = {}, {}
        try:
            for i, (repo, extra) in enumerate(runs):
                dest = os.path.join(work, f"clone{i}")
                trace = os.path.join(work, f"trace{i}")
                argv = [ftrace, symbols, trace, program, "-url", daemon.url(repo), "-path", dest,
                        "-terminationMessagePath", os.path.join(work, f"term{i}")] + extra
                subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(trace) as f:
                    for line in f:
                        interval, _, name = line.strip().partition(" ")
                        first.setdefault(name, len(first))
                        intervals.setdefault(name, set()).add((i, interval))
        finally:
            daemon.stop()
        hot = {n for n, s in intervals.items() if len(s) >= HOT_INTERVALS}
        order = sorted(first, key=lambda n: (n not in hot, first[n]))
        print(f"{len(hot)} hot functions", file=sys.stderr)
        with open(out_path, "w") as f:
            f.write("# git-init's functions in first-call order; regenerate with `make link-order`.\n")
            f.write("# Passed to lld as --symbol-ordering-file by `make build` (see Makefile).\n")
            for name in order:
                f.write(name + "\n")
        print(f"{len(order)} functions written to {out_path}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
