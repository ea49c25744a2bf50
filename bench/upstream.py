"""Build upstream Tekton's entrypoint from the Go module proxy, cached under target/bench/upstream.

Baselines are always real binaries built on this machine, never modelled
figures. The build mirrors how upstream ships the binary: `CGO_ENABLED=0`
(static), `-trimpath` (ko's default). The primary v1.15.0 baseline adds
`-tags disable_spire` (the tag exists from v0.69 on and drops the SPIRE client,
matching stepkit, which does not implement SPIRE); a second v1.15.0 build with
the release's default tags (SPIRE compiled in, as in the published image) is
kept for the size comparison.

`go install <pkg>@<version>` is tried first. Some module proxies refuse the
`@v/list` query that `go install` makes for the deprecation check; the fallback
then downloads the exact module version (`go mod download`) and runs `go build`
inside it, which uses the module's own go.mod and go.sum, i.e. the same
dependency versions.
"""

import json
import os
import shutil
import subprocess

MODULE = "github.com/tektoncd/pipeline"
PACKAGE = MODULE + "/cmd/entrypoint"

# key -> (module version, build tags, label)
BUILDS = {
    "v1.15.0": ("v1.15.0", "disable_spire", "Tekton v1.15.0"),
    "v1.15.0-spire": ("v1.15.0", "", "Tekton v1.15.0 (release tags, SPIRE built in)"),
    "v0.37.2": ("v0.37.2", "", "Tekton v0.37.2"),
}


def _go_version(go):
    try:
        out = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"`go version` failed: {err}"
    if out.returncode != 0:
        return None, f"`go version` failed: {out.stderr.strip()}"
    return out.stdout.strip(), None


def _tail(text, lines=4):
    return " | ".join(line for line in text.strip().splitlines()[-lines:])


def ensure(key, cache_root, log):
    """Return (path, info) for a cached or freshly built upstream entrypoint, or (None, reason)."""
    version, tags, label = BUILDS[key]
    # Absolute: the fallback `go build -o` runs inside the module directory.
    outdir = os.path.join(os.path.abspath(cache_root), key)
    binary = os.path.join(outdir, "entrypoint")
    stamp_file = os.path.join(outdir, "build.json")
    go = shutil.which("go")
    if os.path.exists(binary) and os.path.exists(stamp_file):
        with open(stamp_file) as f:
            info = json.load(f)
        if info.get("version") == version and info.get("tags") == tags:
            return binary, info
    if go is None:
        return None, "Go toolchain not found on PATH (install Go to build the upstream baseline)"
    go_ver, err = _go_version(go)
    if err:
        return None, err
    os.makedirs(outdir, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=readonly -buildvcs=false")
    tag_args = ["-tags", tags] if tags else []
    log(f"building upstream entrypoint {key} ({version}, tags={tags or 'default'}) with {go_ver} ...")
    tmp_bin = os.path.join(outdir, "gobin")
    os.makedirs(tmp_bin, exist_ok=True)
    method = "go install"
    res = subprocess.run(
        [go, "install", "-trimpath", *tag_args, f"{PACKAGE}@{version}"],
        env=dict(env, GOBIN=tmp_bin), capture_output=True, text=True,
    )
    built = os.path.join(tmp_bin, "entrypoint")
    if res.returncode != 0 or not os.path.exists(built):
        first_error = _tail(res.stderr)
        method = "go mod download + go build (go install failed: " + first_error[:200] + ")"
        dl = subprocess.run(
            [go, "mod", "download", "-json", f"{MODULE}@{version}"],
            env=env, capture_output=True, text=True, cwd=outdir,
        )
        try:
            moddir = json.loads(dl.stdout)["Dir"]
        except (ValueError, KeyError):
            shutil.rmtree(tmp_bin, ignore_errors=True)
            return None, (f"Go proxy unavailable for {MODULE}@{version}: go install: {first_error}; "
                          f"go mod download: {_tail(dl.stderr or dl.stdout)}")
        res = subprocess.run(
            [go, "build", "-trimpath", *tag_args, "-o", built, "./cmd/entrypoint"],
            env=env, capture_output=True, text=True, cwd=moddir,
        )
        if res.returncode != 0 or not os.path.exists(built):
            shutil.rmtree(tmp_bin, ignore_errors=True)
            return None, f"go build of {PACKAGE}@{version} failed: {_tail(res.stderr)}"
    os.replace(built, binary)
    shutil.rmtree(tmp_bin, ignore_errors=True)
    info = {"version": version, "tags": tags, "label": label, "go": go_ver,
            "cgo": "0", "flags": "-trimpath", "method": method}
    with open(stamp_file, "w") as f:
        json.dump(info, f, indent=2)
    return binary, info
