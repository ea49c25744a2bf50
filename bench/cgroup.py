"""One memory cgroup per measured workload, for figures that say what a pod pays.

VmRSS and GNU time's max RSS count the clean file pages of a binary in every process that maps
it, although the node holds them once and a step's memory limit counts what the kernel charges
the container's cgroup. The benchmarks therefore run each workload (20 waiting entrypoints; one
clone's whole process tree) in a memory cgroup of its own and read its usage and peak.
"""

import os
import time


class MemoryCgroup:
    """A memory cgroup of its own for one workload (cgroup v2, else v1's memory hierarchy):
    what the kernel charges the workload's processes, i.e. what a pod's limit counts. Processes
    join it before exec, so every page they fault in is charged here; file pages already in the
    page cache stay charged where they were first read (the binaries are warm: they ran before)."""

    def __init__(self, name):
        self.path, self.v2 = None, False
        for root, v2 in (("/sys/fs/cgroup", True), ("/sys/fs/cgroup/memory", False)):
            probe = "cgroup.controllers" if v2 else "memory.usage_in_bytes"
            if not os.path.exists(os.path.join(root, probe)):
                continue
            if v2 and "memory" not in open(os.path.join(root, "cgroup.subtree_control")).read().split():
                continue
            path = os.path.join(root, f"{name}-{os.getpid()}")
            try:
                os.mkdir(path)
            except OSError as err:
                self.reason = f"cannot create a memory cgroup under {root}: {err.strerror}"
                return
            self.path, self.v2 = path, v2
            return
        self.reason = "no memory cgroup controller"

    def join(self):
        """preexec_fn: moves the calling (forked, not yet exec'd) process into the cgroup."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def read(self, v2_file, v1_file):
        with open(os.path.join(self.path, v2_file if self.v2 else v1_file)) as f:
            return int(f.read().split()[0])

    def usage(self):
        return self.read("memory.current", "memory.usage_in_bytes")

    def peak(self):
        return self.read("memory.peak", "memory.max_usage_in_bytes")

    def remove(self):
        if self.path:
            for _ in range(50):
                try:
                    os.rmdir(self.path)
                    return
                except OSError:
                    time.sleep(0.1)
