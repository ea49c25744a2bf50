"""The seed tutorial's flow under Tekton v0.37.2's controller (PipelineResources), once per image
set, each set in its own namespace so the tutorial's object names stay as they are.

    seed037.py run <set> <state-dir>    create seed-v037/*.yaml in namespace seed-<set>, wait for
                                        the TaskRuns, check, save <state-dir>/results-v037-<set>.json

`e2e.py compare` compares the two sets (TABLE). Runs inside the cluster's network namespace.
"""

import json
import pathlib
import re
import sys
import time
import urllib.error

import yaml

import e2e
from e2e import Api, condition, expect, registry_credentials, registry_get

HERE = pathlib.Path(__file__).resolve().parent
MANIFESTS = HERE / "seed-v037"
NAMES = ["testrun", "build-and-push", "testrun-refs"]
GIT_URL = "git://192.0.2.1/tekton-demo.git"
IMAGE_URL = f"{e2e.REGISTRY}/course/tekton-demo:v0.1.0"
# Upstream v0.37.2's entrypoint, when it cannot copy the credentials into an unwritable HOME (the
# tutorial's create-dir step, whose shell image runs as nonroot).
SEED_WARNING = 'unsuccessful cred copy: ".docker" from "/tekton/creds" to "/home/nonroot": unable to create destination directory'
# Image with the git CLI for testrun-refs' inspecting step.
GIT_CLI_IMAGE = "localhost/tekton-v037/git-init:v0.37.2"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

KNOWN = {}  # no documented difference: the flow must look the same to the controller


def namespace(image_set: str) -> str:
    return f"seed-{image_set}"


def rr(st: dict, key: str, resource: str) -> str | None:
    return next((r["value"] for r in st["resourcesResult"] if r.get("key") == key
                 and r.get("resourceName") == resource), None)


def check_testrun(st, ctx):
    return (expect(condition(st).get("status") == "True", f"not Succeeded: {condition(st)}")
            + expect(rr(st, "commit", "repo") == ctx["commit"], f"resourcesResult {st['resourcesResult']}")
            + expect(rr(st, "url", "repo") == GIT_URL, f"resourcesResult {st['resourcesResult']}")
            + expect("ok  \t_/workspace/repo" in ctx["logs"], "no `ok _/workspace/repo` from go test")
            + expect("(grafted, HEAD, origin/master)" in ctx["logs"], "git-init did not log `(grafted, HEAD, origin/master)`"))


def check_build_and_push(st, ctx):
    pushed = ctx.get("pushed_digest")
    problems = (expect(condition(st).get("status") == "True", f"not Succeeded: {condition(st)}")
                + expect("Login Succeeded" in ctx["logs"], "docker login found no credentials")
                + expect(pushed is not None and rr(st, "digest", "builtImage") == pushed,
                         f"digest {rr(st, 'digest', 'builtImage')} is not the registry's {pushed}")
                + expect(rr(st, "url", "builtImage") == IMAGE_URL, f"resourcesResult {st['resourcesResult']}"))
    if ctx["set"] == "upstream":
        return problems + expect(SEED_WARNING in ctx["logs"], "no seed warning from upstream's create-dir step")
    return problems + expect(SEED_WARNING not in ctx["logs"], "stepkit printed upstream's failed-copy warning")


def check_testrun_refs(st, ctx):
    refs = st["results"].get("refs", "").split()
    return (expect(condition(st).get("status") == "True", f"not Succeeded: {condition(st)}")
            + expect("refs/remotes/origin/master" in refs, f"refs in the clone: {refs}"))


CHECKS = {"testrun": check_testrun, "build-and-push": check_build_and_push, "testrun-refs": check_testrun_refs}
TABLE = e2e.Table("The seed tutorial on Tekton v0.37.2 (PipelineResources)", "results-v037", NAMES, KNOWN)


def prepare_namespace(admin: Api, ns: str) -> None:
    """What kube-controller-manager (not run) would do for a new namespace."""
    admin.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    scoped = Api(admin.kubeconfig, ns)
    scoped.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    ca = admin.call("GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
    scoped.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"}, "data": ca["data"]})


def manifests(state: pathlib.Path) -> list[dict]:
    user, password = registry_credentials(state)
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        text = path.read_text()
        for key, value in {"@REGISTRY_USER@": user, "@REGISTRY_PASSWORD@": password,
                           "@GIT_CLI_IMAGE@": GIT_CLI_IMAGE}.items():
            text = text.replace(key, value)
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def pushed_digest(state: pathlib.Path) -> str | None:
    """The digest of the tutorial's tag in the registry, as the registry reports it."""
    manifest = registry_get(state, "/v2/course/tekton-demo/manifests/v0.1.0", digest=True)
    return manifest.get("digest")


def run(image_set: str, state: pathlib.Path) -> int:
    kubeconfig = state / "admin.kubeconfig"
    ns = namespace(image_set)
    prepare_namespace(Api(kubeconfig), ns)
    api = Api(kubeconfig, ns, "v1beta1")
    starts = {}
    for doc in manifests(state):
        api.create(doc)
        if doc["kind"] == "TaskRun":
            starts[doc["metadata"]["name"]] = time.monotonic()
    walls, runs = {}, {}
    deadline = time.monotonic() + e2e.TIMEOUT
    while len(walls) < len(NAMES) and time.monotonic() < deadline:
        for name in NAMES:
            if name in walls:
                continue
            tr = api.taskrun(name)
            if tr.get("status", {}).get("completionTime"):
                walls[name], runs[name] = time.monotonic() - starts[name], tr
                if name == "build-and-push":
                    # checked now: the other image set pushes the same tag later
                    runs[name]["pushed"] = pushed_digest(state)
        time.sleep(0.25)
    return report(api, image_set, state, walls, runs)


def report(api: Api, image_set: str, state: pathlib.Path, walls: dict, runs: dict) -> int:
    out, failures = {}, 0
    commit = e2e.subprocess.run(["git", "-C", str(state / "git" / "tekton-demo.git"), "rev-parse", "master"],
                                capture_output=True, text=True, check=True).stdout.strip()
    user, password = registry_credentials(state)
    for name in NAMES:
        tr = runs.get(name) or api.taskrun(name)
        st = e2e.normalize(tr)
        st["pod"] = e2e.normalize_pod(tr, e2e.get_pod(api, tr))
        logs = e2e.save_logs(api, tr, state / "pod-logs" / f"v037-{image_set}")
        ctx = {"set": image_set, "commit": commit, "logs": logs, "pushed_digest": tr.get("pushed")}
        problems = ([f"did not complete within {e2e.TIMEOUT} s"] if name not in walls else CHECKS[name](st, ctx))
        problems += expect(password not in logs and password not in json.dumps(st),
                           "the registry password appears in a log or the status")
        failures += bool(problems)
        wall = f"{walls[name]:.1f}s" if name in walls else "timeout"
        print(f"{'PASS' if not problems else 'FAIL'} v037-{image_set}/{name} ({wall})"
              + "".join(f"\n    {p}" for p in problems), flush=True)
        # the pushed image's digest differs between the runs (the layer holds the checkout's
        # mtimes); each run checked it against the registry above
        out[name] = {"status": json.loads(DIGEST.sub("sha256:<pushed>", json.dumps(st).replace(namespace(image_set), "<namespace>"))),
                     "wall": walls.get(name), "problems": problems}
    (state / f"results-v037-{image_set}.json").write_text(json.dumps(out, indent=2))
    return failures


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "run" and argv[1] in e2e.IMAGE_SETS:
        try:
            return 1 if run(argv[1], pathlib.Path(argv[2])) else 0
        except urllib.error.HTTPError as err:
            print(f"seed037: {err.code} {err.reason} from {err.url}: {err.read()[:300]!r}", file=sys.stderr)
            return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
