"""Self-tests of the benchmark harness pieces that need no entrypoint binary.

Run: python3 -m unittest discover -s bench -p 'test_*.py'
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import stamp  # noqa: E402
import svgplot  # noqa: E402

X86_64_LINUX = platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def skip(test, reason):
    """Skips `test`, or fails it under STEPKIT_REQUIRE_ALL=1 (CI), where nothing may be skipped."""
    if os.environ.get("STEPKIT_REQUIRE_ALL") == "1":
        test.fail(f"STEPKIT_REQUIRE_ALL=1 but this test cannot run: {reason}")
    test.skipTest(reason)


class StampTest(unittest.TestCase):
    def setUp(self):
        if not X86_64_LINUX:
            skip(self, "stamp is an x86-64 Linux ELF")
        self.dir = tempfile.mkdtemp()
        self.bin = stamp.install(os.path.join(self.dir, "stamp"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_noop_exits_zero(self):
        self.assertEqual(subprocess.run([self.bin]).returncode, 0)

    def test_records_monotonic_start_and_end(self):
        out = os.path.join(self.dir, "rec")
        before = time.monotonic_ns()
        subprocess.run([self.bin, out], check=True)
        after = time.monotonic_ns()
        (t0, t1), = stamp.read(out)
        self.assertLessEqual(before, t0)
        self.assertLessEqual(t0, t1)
        self.assertLessEqual(t1, after)

    def test_execs_the_rest_of_argv(self):
        first, second = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        subprocess.run([self.bin, first, self.bin, second], check=True)
        (a0, a1), = stamp.read(first)
        (b0, _), = stamp.read(second)
        self.assertLess(a1, b0)

    def test_unwritable_record_exits_127(self):
        r = subprocess.run([self.bin, os.path.join(self.dir, "missing", "x")])
        self.assertEqual(r.returncode, 127)

    def test_install_is_idempotent(self):
        self.assertEqual(stamp.install(self.bin), self.bin)
        with open(self.bin, "rb") as f:
            self.assertEqual(f.read(), stamp.elf_bytes())


class GitDaemonTest(unittest.TestCase):
    """bench/git's daemon leaves nothing running: stop() ends git-daemon and its children."""

    def test_stop_ends_the_daemon_and_its_children(self):
        if shutil.which("git") is None:
            skip(self, "`git` is not installed")
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "git"))
        import bench as git_bench
        with tempfile.TemporaryDirectory() as work:
            home = os.path.join(work, "home")
            os.makedirs(home)
            env = git_bench.clean_env(home)
            srv = os.path.join(work, "srv")
            os.makedirs(os.path.join(srv, "r"))
            subprocess.run(["git", "init", "-q", "--bare", os.path.join(srv, "r")], env=env, check=True)
            daemon = git_bench.Daemon(srv, env)
            pgid = os.getpgid(daemon.proc.pid)
            self.assertEqual(pgid, daemon.proc.pid, "git-daemon leads a process group of its own")
            subprocess.run(["git", "ls-remote", daemon.url("r")], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            daemon.stop()
            deadline = time.monotonic() + 10
            while group_alive(pgid):
                self.assertLess(time.monotonic(), deadline, f"process group {pgid} outlived stop()")
                time.sleep(0.05)


def group_alive(pgid):
    """True while a process (not a zombie) of group `pgid` exists."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class StatsTest(unittest.TestCase):
    def test_percentiles_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(harness.pct(values, 50), 50)
        self.assertEqual(harness.pct(values, 99), 99)
        self.assertEqual(harness.pct([7], 99), 7)
        s = harness.summary([3, 1, 2])
        self.assertEqual((s["min"], s["median"], s["max"], s["n"]), (1, 2, 3, 3))

    def test_formatting(self):
        self.assertEqual(harness.fmt_ns(312_000), "312 µs")
        self.assertEqual(harness.fmt_ns(512_000_000), "512 ms")
        self.assertEqual(harness.fmt_ns(1_500_000_000), "1.50 s")
        self.assertEqual(harness.fmt_ratio(1, 500), "0.002 (1/500)")
        self.assertEqual(harness.fmt_ratio(1, None), "–")
        self.assertEqual(harness.fmt_bytes(2 * 1024 * 1024), "2.00 MiB")


class RenderTest(unittest.TestCase):
    def test_svg_is_wellformed(self):
        import xml.dom.minidom
        svg = svgplot.cdf_svg("t", [("a", [3e5, 4e5], False), ("b", [5e8, 9e8], True)])
        xml.dom.minidom.parseString(svg.encode())
        self.assertIn("polyline", svg)

    def test_git_rows(self):
        data = {"results": [
            {"repo": "1k files", "depth": 1, "tool": "git-init", "wall_s": 0.5, "max_rss_kib": 1000,
             "cgroup_peak_kib": 4000},
            {"repo": "1k files", "depth": 1, "tool": "git-sequence", "wall_s": 1.0, "max_rss_kib": 5000,
             "cgroup_peak_kib": 8000},
        ]}
        rows = harness.git_rows(data, ["stepkit", "v1.15.0", "v0.37.2"])
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[0][-1], "0.50")
        self.assertIn("cgroup peak", rows[1][0])
        self.assertEqual(rows[1][-1], "0.50")
        self.assertTrue(all(len(r) == 5 for r in rows))

class DensityTableTest(unittest.TestCase):
    def test_rows_per_size_and_failures(self):
        summ = harness.summary
        ok = {"inotify_held": 40, "boundary": summ([1_000_000, 4_000_000]),
              "ready_wake": summ([500_000]), "running_steps": 40, "inotify_held_by_running": 40,
              "cancel": summ([400_000, 6_000_000]), "method": "one pod at a time",
              "cpu_per_10s": summ([60_000, 90_000])}

        class Ctx:
            pass
        ctx = Ctx()
        ctx.impls = [harness.Impl("stepkit", "stepkit", "", True),
                     harness.Impl("v1.15.0", "Tekton v1.15.0", "", False)]
        ctx.extra_impls = []
        ctx.results = {"density": {"stepkit": {"max_user_instances": 128, "200": ok,
                                               "1000": {"skipped": "memory"}},
                                   "v1.15.0": {"error": "boom"}}}
        table = harness.density_table(ctx).splitlines()
        self.assertIn("max_user_instances 128", table[0])
        self.assertIn("| **N = 200** |", table[2])
        hand_off = next(r for r in table if r.startswith("| step hand-off"))
        self.assertIn("2.50 ms / 4.00 ms (n=2)", hand_off)
        self.assertTrue(hand_off.endswith("| failed |"), hand_off)
        self.assertIn("skipped: memory", next(r for r in table[8:] if r.startswith("| inotify")))



if __name__ == "__main__":
    unittest.main()
