#!/usr/bin/env python3
"""Fuzzes each target until it has used a CPU budget, not a wall-clock one.

libFuzzer's -max_total_time counts wall seconds, which on a shared 2-core machine says little
about how much fuzzing happened. This runs each built target directly (one at a time, with the
same corpus, seed and regression directories and flags as `make fuzz`), reads the fuzzer's own
user+system CPU time from /proc, and sends SIGINT once it reaches the budget; libFuzzer then
prints its final stats. Run it under SCHED_IDLE (`chrt --idle 0`) to use only idle cycles.

usage: fuzz/cpu-budget.py CPU_SECONDS TARGET...   (after `cargo fuzz build`, from the repo root)
Prints one line per target: target, CPU s, wall s, executions, coverage, exit status.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

FUZZ = pathlib.Path(__file__).resolve().parent
BIN = FUZZ / "target" / "x86_64-unknown-linux-gnu" / "release"
FLAGS = ["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def fuzz(target: str, budget: float, logs: pathlib.Path) -> str:
    dirs = [FUZZ / d / target for d in ("corpus", "seeds", "regressions")]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    (FUZZ / "artifacts" / target).mkdir(parents=True, exist_ok=True)
    log = logs / f"{target}.log"
    scratch = FUZZ / "target" / "tmp-cpu-budget"  # parsers that read files write them here
    scratch.mkdir(parents=True, exist_ok=True)
    start, used = time.monotonic(), 0.0
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / target), *FLAGS, f"-artifact_prefix={FUZZ}/artifacts/{target}/",
                                 *map(str, dirs)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "TMPDIR": str(scratch)})
        while proc.poll() is None:
            try:
                used = cpu_seconds(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            if used >= budget:
                proc.send_signal(signal.SIGINT)
                proc.wait()
                break
            time.sleep(5)
    text = log.read_text(errors="replace")
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    cov = re.findall(r"\bcov: (\d+)", text)
    return (f"{target}\tcpu {used:.0f} s\twall {time.monotonic() - start:.0f} s\t"
            f"executions {runs[-1] if runs else '?'}\tcoverage {cov[-1] if cov else '?'}\t"
            f"exit {proc.returncode}")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    budget = float(argv[0])
    logs = FUZZ / "target" / "cpu-budget-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for target in argv[1:]:
        print(fuzz(target, budget, logs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
