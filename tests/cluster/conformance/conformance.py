"""make conformance: runs Tekton's own end-to-end suite (test/ of github.com/tektoncd/pipeline,
compiled by build.sh from the module cache, never copied here) against the cluster, one test per
process, and writes docs/conformance.md from the verdicts of both helper-image sets.

  conformance.py plan  SUITE_DIR                 prints the plan (test, kind, why N/A) as TSV
  conformance.py run   SET SUITE_DIR OUT [--ci] [--only REGEX] [--jobs N]
                                                 runs the plan with the controller as it is now,
                                                 verdicts to OUT/SET.json, logs to OUT/logs/SET/
  conformance.py report OUT DOC [PHASES]         writes DOC from OUT/{stepkit,upstream}.json;
                                                 last line `conformance: stepkit N/M, upstream K/M`

SUITE_DIR holds e2e.test, conformance.test and examples.test and the module copy pipeline/ (whose test/ is the
tests' working directory: TestMain scans it for @test:execution annotations, and the examples
test reads ../examples). Which tests are not applicable here, and which form the CI subset, is
tests.tsv next to this file. Every test the binaries list is run unless tests.tsv says N/A.
Tests annotated `@test:execution=serial` (they rewrite the feature-flags ConfigMap) run alone,
first; the others run --jobs at a time. A test that outlives its timeout is killed (TIMEOUT):
upstream's waits are 15 min, and one blocked test must not hold up the rest.
"""

import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
TIMEOUT = 300  # s per test process: TestDAGPipelineRun takes ~100 s on 2 busy cores


def read_tsv(path):
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rows.append(line.split("\t"))
    return rows


def listed_tests(binary, cwd):
    if not binary.exists():  # run.sh --ci builds only e2e.test
        return []
    out = subprocess.run([str(binary), "-test.list", ".*"], cwd=cwd, capture_output=True, text=True, check=True)
    # TestMain runs the list twice (serial tests, then parallel ones): once each
    return list(dict.fromkeys(t for t in out.stdout.split() if t.startswith("Test")))


def tagged_tests(test_dir, tag):
    """Test functions of the files built under build tag TAG (the binary also lists the untagged
    unit tests of the harness's own helpers, which are not end-to-end tests)."""
    names = set()
    for src in test_dir.glob("*_test.go"):
        text = src.read_text()
        first = text.split("\n", 1)[0]
        if first.startswith("//go:build") and tag in re.findall(r"\w+", first):
            names.update(re.findall(r"^func (Test\w+)\(t \*testing\.T\)", text, re.M))
    return names


def serial_tests(test_dir):
    serial = set()
    for src in test_dir.glob("*_test.go"):
        pending = False
        for line in src.read_text().splitlines():
            if "@test:execution=serial" in line:
                pending = True
            m = re.match(r"func (Test\w+)\(", line)
            if m:
                if pending:
                    serial.add(m.group(1))
                pending = False
    return serial


def plan(suite):
    """[(id, binary, run_regex, serial, na_reason, ci)] in a stable order."""
    suite = pathlib.Path(suite)
    test_dir = suite / "pipeline" / "test"
    rules = read_tsv(HERE / "tests.tsv")  # pattern, verdict (run|ci|na), reason

    def rule_for(test_id):
        for pattern, verdict, *reason in rules:
            if re.fullmatch(pattern, test_id):
                return verdict, (reason[0] if reason else "")
        return "run", ""

    serial = serial_tests(test_dir)
    items = []
    for tag in ("e2e", "conformance"):  # test/conformance_test.go: tag conformance
        tagged = tagged_tests(test_dir, tag)
        for name in [t for t in listed_tests(suite / f"{tag}.test", test_dir) if t in tagged]:
            verdict, reason = rule_for(name)
            items.append((name, f"{tag}.test", f"^{name}$", name in serial, reason if verdict == "na" else "", verdict == "ci"))
    examples = []
    if (suite / "examples.test").exists():
        examples = sorted((suite / "pipeline" / "examples" / "v1").glob("*/**/*.yaml"))
    for path in examples:
        rel = path.relative_to(suite / "pipeline" / "examples")
        parts = rel.parts
        if parts[1] not in ("taskruns", "pipelineruns") or "no-ci" in parts:
            continue
        # examples_test.go's own filter for the default enable-api-fields (beta): not alpha/
        gated = len(parts) > 3 and parts[2] == "alpha"
        sub = str(rel.with_suffix(""))
        test_id = f"TestExamples/{sub}"
        verdict, reason = rule_for(test_id)
        if gated and verdict != "na":
            verdict, reason = "na", "alpha example: examples_test.go runs it only with enable-api-fields alpha (default: beta)"
        regex = "/".join(f"^{re.escape(p)}$" for p in ["TestExamples", *rel.with_suffix("").parts])
        items.append((test_id, "examples.test", regex, False, reason if verdict == "na" else "", verdict == "ci"))
    return items


def run_one(suite, item, logdir, env):
    test_id, binary, regex, _serial, _na, _ci = item
    test_dir = pathlib.Path(suite) / "pipeline" / "test"
    log = logdir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id) + ".log")
    argv = [str(pathlib.Path(suite) / binary), "-test.run", regex, "-test.v", "-test.count", "1",
            "-test.timeout", f"{TIMEOUT}s", "-kubeconfig", env["KUBECONFIG"]]
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            proc = subprocess.run(argv, cwd=test_dir, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=TIMEOUT + 30)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    secs = time.monotonic() - t0
    text = log.read_text(errors="replace")
    top = test_id.split("/")[0]
    if rc is None or "panic: test timed out" in text:
        verdict = "TIMEOUT"
    elif re.search(rf"^\s*--- FAIL: {re.escape(test_id)}\b", text, re.M) or rc != 0:
        verdict = "FAIL"
    elif re.search(rf"^\s*--- SKIP: {re.escape(test_id)}\b", text, re.M) or re.search(
            rf"^--- SKIP: {re.escape(top)}\b", text, re.M):
        verdict = "SKIP"
    elif re.search(rf"^\s*--- PASS: {re.escape(test_id)}\b", text, re.M):
        verdict = "PASS"
    else:
        verdict = "NOTRUN"  # e.g. "no tests to run"
    detail = ""
    if verdict in ("FAIL", "SKIP", "TIMEOUT"):
        # the first message the test logged about it: a *_test.go:LINE: line after its === RUN
        msgs = [m for m in re.findall(r"^\s+(\w+(?:_test)?\.go:\d+: .*)$", text, re.M)
                if not re.search(r"^(panic|build_logs|stream|path_filtering)\.go|: (Create|Deleting) namespace|"
                                 r": Verify SA|: Adding test|: Setting up test resources|: Creating|: Waiting", m)]
        if verdict == "SKIP":
            msgs = [m for m in msgs if re.search(r"[Ss]kip|feature flag|Couldn't|not created", m)] or msgs
        detail = (msgs or [""])[0][:300]
        if verdict == "TIMEOUT" and not detail:
            detail = f"killed after {TIMEOUT} s"
    return {"test": test_id, "verdict": verdict, "seconds": round(secs, 1), "detail": detail, "log": str(log)}


def run(image_set, suite, outdir, ci=False, only=None, jobs=6):
    outdir = pathlib.Path(outdir)
    logdir = outdir / "logs" / image_set
    logdir.mkdir(parents=True, exist_ok=True)
    items = [i for i in plan(suite) if not i[4]]
    if ci:
        items = [i for i in items if i[5]]
    if only:
        items = [i for i in items if re.search(only, i[0])]
    env = dict(os.environ)
    for key in ("SYSTEM_NAMESPACE", "KUBECONFIG"):
        if key not in env:
            sys.exit(f"conformance.py: {key} must be set")
    results = []
    t0 = time.monotonic()

    def note(r):
        results.append(r)
        print(f"[conformance {image_set} {time.monotonic() - t0:6.0f}s] {r['verdict']:7} {r['test']} ({r['seconds']} s)"
              + (f" {r['detail']}" if r["verdict"] != "PASS" and r["detail"] else ""), flush=True)

    for item in [i for i in items if i[3]]:  # serial: alone
        note(run_one(suite, item, logdir, env))
    rest = [i for i in items if not i[3]]
    # the slow ones first, so the tail of the run stays parallel
    rest.sort(key=lambda i: (not i[0].startswith(("TestDAG", "TestPipelineRun", "TestTaskRunRetry")), i[0]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(run_one, suite, i, logdir, env) for i in rest]):
            note(fut.result())
    path = outdir / f"{image_set}{'-ci' if ci else ''}.json"  # a CI-subset run never replaces the full verdicts
    old, wall = {}, round(time.monotonic() - t0, 1)
    if only and path.exists():  # a partial rerun updates the verdicts it has, keeps the full run's wall time
        prev = json.loads(path.read_text())
        old = {r["test"]: r for r in prev["results"]}
        wall = prev["wall_seconds"]
    old.update({r["test"]: r for r in results})
    path.write_text(json.dumps({"set": image_set, "ci": ci, "wall_seconds": wall,
                                "results": sorted(old.values(), key=lambda r: r["test"])}, indent=1) + "\n")
    counts = {}
    for r in results:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(f"conformance {image_set}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f" in {time.monotonic() - t0:.0f} s")
    return results


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "plan":
        for test_id, binary, regex, serial, na, ci in plan(sys.argv[2]):
            kind = "na" if na else ("serial" if serial else "parallel")
            print("\t".join([test_id, binary, kind, "ci" if ci else "", na]))
        return 0
    if cmd == "run":
        args = sys.argv[2:]
        ci = "--ci" in args
        only = args[args.index("--only") + 1] if "--only" in args else None
        jobs = int(args[args.index("--jobs") + 1]) if "--jobs" in args else 6
        results = run(args[0], args[1], args[2], ci=ci, only=only, jobs=jobs)
        bad = [r for r in results if r["verdict"] not in ("PASS", "SKIP")]
        return 1 if ci and bad else 0
    if cmd == "report":
        import report
        return report.main(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
