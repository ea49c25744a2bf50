"""docs/conformance.md from the verdicts conformance.py run wrote (RESULTS/stepkit.json,
RESULTS/upstream.json), the plan (tests.tsv: what is N/A and why) and notes.tsv (the analysis of
tests that fail for a reason other than the helper images). Last line printed (and the doc's
summary line): `conformance: stepkit N/M, upstream K/M`, M = the tests that ran here with at least
one image set and did not skip themselves (feature gates) with both.

usage: report.py RESULTS DOC SUITE_DIR
"""

import json
import pathlib
import sys

import conformance

HERE = pathlib.Path(__file__).resolve().parent


def load(results, name):
    path = results / f"{name}.json"
    if not path.exists():
        return {}, None
    data = json.loads(path.read_text())
    return {r["test"]: r for r in data["results"]}, data


def cell(r):
    if r is None:
        return "–"
    v = r["verdict"]
    return f"{v} ({r['seconds']:.0f} s)" if v in ("PASS", "FAIL") else v


def main(argv):
    results, doc, suite = pathlib.Path(argv[0]), pathlib.Path(argv[1]), argv[2]
    jobs = argv[3] if len(argv) > 3 else "6"
    stepkit, sdata = load(results, "stepkit")
    upstream, udata = load(results, "upstream")
    notes = {}
    for row in conformance.read_tsv(HERE / "notes.tsv"):
        notes[row[0]] = row[1]
    plan = conformance.plan(suite)
    rows, applicable, n_ok, k_ok, regressions, na = [], 0, 0, 0, [], 0
    for test_id, _binary, _regex, _serial, na_reason, ci in plan:
        s, u = stepkit.get(test_id), upstream.get(test_id)
        if na_reason:
            na += 1
            rows.append((test_id, "N/A", "N/A", na_reason))
            continue
        verdicts = {r["verdict"] for r in (s, u) if r}
        if not verdicts:
            rows.append((test_id, "not run", "not run", "no verdict recorded yet"))
            continue
        if verdicts != {"SKIP"}:
            applicable += 1
            n_ok += bool(s and s["verdict"] == "PASS")
            k_ok += bool(u and u["verdict"] == "PASS")
        if u and u["verdict"] == "PASS" and s and s["verdict"] != "PASS":
            regressions.append(test_id)
        note = notes.get(test_id, "")
        if not note:
            details = {name: r["detail"] for name, r in (("stepkit", s), ("upstream", u))
                       if r and r["verdict"] != "PASS" and r.get("detail")}
            if len(details) == 2 and details["stepkit"] == details["upstream"]:
                note = "both: " + details["stepkit"]
            else:
                note = "; ".join(f"{name}: {d}" for name, d in details.items())
        if ci:
            note = ("CI subset. " + note).strip()
        rows.append((test_id, cell(u), cell(s), note.replace("|", "\\|")))
    summary = f"conformance: stepkit {n_ok}/{applicable}, upstream {k_ok}/{applicable}"
    out = [
        "# Conformance: Tekton's own end-to-end suite",
        "",
        "`make conformance` (`tests/cluster/conformance/run.sh`) runs the end-to-end tests of",
        "`github.com/tektoncd/pipeline@v1.15.0` — `test/*_test.go` under build tag `e2e` and every",
        "`examples/v1/{taskruns,pipelineruns}` file through `examples_test.go` (tag `examples`) — compiled",
        "from the Go module cache (never copied here), against the cluster of `make cluster-e2e`",
        "([cluster-e2e.md](cluster-e2e.md)): a real kubelet and Tekton's controller, offline. Every test runs",
        "twice, with upstream's helper images (entrypoint, workingdirinit, nop built from the same module)",
        "and with stepkit's, one test per process (`-test.run '^Name$'`), serial-annotated tests alone.",
        "",
        "The harness adds to that cluster: kube-controller-manager (namespaces' default ServiceAccount,",
        "StatefulSets for the affinity assistant, a hostPath provisioner), Tekton's webhook as a host",
        "process (defaulting, validation, v1beta1 conversion; the apiserver reaches its Service's ClusterIP",
        "through a DNAT rule, as there is no kube-proxy), a registry of stand-in images",
        "that containerd uses as the mirror of mirror.gcr.io, docker.io, gcr.io, ghcr.io and cgr.dev, also",
        "served over TLS to the controller under the real names (private `/etc/hosts`), and the",
        "controller linked with a release stamp (its pods' `pipeline.tekton.dev/release`). The stand-ins",
        "are Debian's busybox-static with bash (python3 and git where the reference needs them); which",
        "reference gets which, and how digest-pinned references are served (a local containerd name,",
        "never an edited test), is the table `tests/cluster/conformance/images.tsv`. Not applicable",
        "tests and the CI subset (run by `.ci/run` with stepkit's images) are",
        "`tests/cluster/conformance/tests.tsv`; the analysis of tests that fail for both image sets is",
        "`tests/cluster/conformance/notes.tsv`. `results-from=sidecar-logs` uses upstream's",
        "sidecarlogresults image with both sets (stepkit's own, new in this tree, is not yet wired into this harness).",
        "",
        "Feature flags are Tekton's defaults (`enable-api-fields: beta`); tests that need alpha skip",
        "themselves (SKIP) and `alpha/` examples are not run (examples_test.go's own filter).",
        "",
        f"**{summary}**",
        "",
        f"- M counts the tests that ran here and did not skip themselves with both sets; {na} more are N/A.",
        "- upstream passes, stepkit fails: " + (", ".join(regressions) if regressions else "none"),
    ]
    for name, data in (("upstream", udata), ("stepkit", sdata)):
        if data:
            ran = sum(1 for i in plan if not i[4] and i[0] in {r["test"] for r in data["results"]})
            out.append(f"- {name} images: {ran} tests run in {data['wall_seconds'] / 60:.1f} min wall"
                       f" ({jobs} at a time, serial ones alone)")
    ci_path = results / "stepkit-ci.json"
    if ci_path.exists():
        ci = json.loads(ci_path.read_text())
        passed = sum(r["verdict"] == "PASS" for r in ci["results"])
        skipped = sum(r["verdict"] == "SKIP" for r in ci["results"])
        out.append(f"- last CI-subset run (`make conformance CONFORMANCE_ARGS=--ci`, stepkit's images): "
                   f"{passed}/{len(ci['results'])} passed, {skipped} skipped themselves (alpha gate), "
                   f"tests {ci['wall_seconds']:.0f} s wall "
                   "(the whole target ~2.6 min with the Go builds cached: cluster up ~35 s, down ~10 s)")
    out += ["", "| test | upstream images | stepkit images | note |", "|---|---|---|---|"]
    out += [f"| {t} | {u} | {s} | {n} |" for t, u, s, n in rows]
    doc.write_text("\n".join(out) + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
