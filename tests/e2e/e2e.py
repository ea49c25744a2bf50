#!/usr/bin/env python3
"""End-to-end tests of the stepkit images in Tekton-shaped pods under `podman kube play`.

Each scenario builds a Pod the way Tekton's controller does (pkg/pod: the `prepare`,
`place-scripts` and `working-dir-initializer` init containers, step containers whose command is
/tekton/bin/entrypoint with the controller's exact argv, the /tekton volumes), runs it with
podman (runc, vfs storage, private configuration) and checks the outcome from outside: container
exit codes from `podman inspect`, termination messages parsed the way the controller parses them,
and files in the workspace.

Where podman differs from a kubelet the harness emulates the kubelet:
* emptyDir volumes are host directories with mode 0777 (podman's emptyDir copies the image's
  mount point, root 0755, which a non-root `prepare` cannot write);
* the downward-API volume (/tekton/downward: `ready`, `cancel`) is a host directory laid out the
  way the kubelet's atomic writer lays it out (`ready -> ..data/ready`), updated by swapping `..data`;
* the termination message file is a host file bind-mounted at /tekton/termination;
* Secret volumes are host directories with the kubelet's `..data` symlink layout.

Only the Python standard library is used. Run through scripts/e2e.sh, which installs podman.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import random
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEP_IMAGE_BUSYBOX = "localhost/stepkit-e2e/busybox:1"
STEP_IMAGE_GIT = "localhost/stepkit-e2e/git:1"
GIT_USER, GIT_PASSWORD = "bot", "s3cr3t-git"
DOCKER_USER, DOCKER_PASSWORD = "robot", "d0ck3r-pass"
DOCKER_REGISTRY = "https://registry.example.com"
# Go "2006-01-02T15:04:05.000Z07:00", what the controller parses StartedAt with
STARTED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)")
POD_TIMEOUT = 120  # seconds a pod may run before the harness gives up on it


class Skip(Exception):
    """Podman cannot run containers here at all."""


class Failure(Exception):
    """A scenario could not run to the point of checking its outcome."""


# ---------------------------------------------------------------------------------------------
# podman with private configuration


class Podman:
    """podman and buildah with vfs storage under the build directory and a private config."""

    def __init__(self, work: Path):
        self.work = work
        # Sockets and exit files live under runroot/tmpdir; unix socket paths are limited to
        # 108 bytes, so these go to a short directory under /tmp.
        self.short = Path(tempfile.mkdtemp(prefix="skE."))
        self.storage = work / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        conf = work / "conf"
        conf.mkdir(exist_ok=True)
        (conf / "containers.conf").write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{self.short}/libpod"\n'
        )
        (conf / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.storage}"\nrunroot = "{self.short}/run"\n'
        )
        (conf / "registries.conf").write_text("unqualified-search-registries = []\n")
        (conf / "policy.json").write_text('{"default":[{"type":"insecureAcceptAnything"}]}\n')
        self.policy = conf / "policy.json"
        self.env = dict(os.environ)
        self.env.update(
            CONTAINERS_CONF=str(conf / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(conf / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(conf / "registries.conf"),
            TMPDIR=str(self.short),
        )

    def run(self, *args: str, tool: str = "podman", check: bool = True, timeout: float = 180,
            input: bytes | None = None) -> subprocess.CompletedProcess:
        cmd = [tool, *args]
        if tool == "podman":
            cmd[1:1] = ["--tmpdir", str(self.short / "libpod")]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise Failure(f"`{' '.join(cmd)}` exited {proc.returncode}: "
                          f"{proc.stderr.decode(errors='replace').strip()}")
        return proc

    def out(self, *args: str, **kw) -> str:
        return self.run(*args, **kw).stdout.decode(errors="replace").strip()

    def cleanup(self) -> None:
        for args in (["pod", "rm", "--all", "--force"], ["rm", "--all", "--force"],
                     ["volume", "prune", "--force"]):
            self.run(*args, check=False, timeout=120)
        self.run("rm", "--all", tool="buildah", check=False, timeout=120)
        shutil.rmtree(self.storage, ignore_errors=True)
        shutil.rmtree(self.short, ignore_errors=True)
        # cgroupfs leaves empty libpod_parent directories in every v1 hierarchy.
        for parent in Path("/sys/fs/cgroup").glob("*/libpod_parent"):
            for sub in sorted(parent.glob("**/"), key=lambda p: len(p.parts), reverse=True):
                try:
                    sub.rmdir()
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------
# images


def load_images(podman: Podman, images_dir: Path) -> dict[str, str]:
    """Loads every stepkit archive; returns image name -> reference it loaded under."""
    refs = {}
    for name in ("entrypoint", "git-init", "workingdirinit", "creds-init", "nop"):
        archive = images_dir / f"{name}.oci.tar"
        with tarfile.open(archive) as tar:
            index = json.load(tar.extractfile("./index.json"))
        ref = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        podman.run("load", "--quiet", "-i", str(archive))
        refs[name] = ref
    return refs


def copy_with_libraries(rootfs: Path, binary: str, dest: str | None = None) -> None:
    """Copies a binary (to `dest`, default its own path) and every library ldd lists."""
    out = rootfs / (dest or binary).lstrip("/")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, out)
    out.chmod(0o755)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if ldd.returncode != 0:
        return  # static: "not a dynamic executable"
    for line in ldd.stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if not path.startswith("/"):
            continue  # linux-vdso
        for target in {path, "/lib/x86_64-linux-gnu/" + Path(path).name}:
            out = rootfs / target.lstrip("/")
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(os.path.realpath(path), out)


def build_step_images(podman: Podman, work: Path) -> None:
    """Builds the user images the steps run: busybox, and busybox plus the git CLI."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    for ref, with_git in ((STEP_IMAGE_BUSYBOX, False), (STEP_IMAGE_GIT, True)):
        ctx = work / ("ctx-git" if with_git else "ctx-busybox")
        shutil.rmtree(ctx, ignore_errors=True)
        root = ctx / "rootfs"
        (root / "bin").mkdir(parents=True)
        copy_with_libraries(root, os.path.realpath(busybox), "/bin/busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for applet in applets:
            if applet != "busybox":
                (root / "bin" / applet).symlink_to("busybox")
        (root / "etc").mkdir()
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\nnonroot:x:65532:\n")
        for d, mode in (("tmp", 0o1777), ("root", 0o700), ("readonly-home", 0o755)):
            (root / d).mkdir()
            os.chmod(root / d, mode)
        if with_git:
            copy_with_libraries(root, "/usr/bin/git")
            copy_with_libraries(root, "/usr/lib/git-core/git-remote-http")
        (ctx / "Containerfile").write_text(
            "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\nCMD [\"/bin/sh\"]\n")
        podman.run("build", "--quiet", "--network", "none", "--pull=never", "-t", ref, str(ctx),
                   tool="buildah")


# ---------------------------------------------------------------------------------------------
# git server on 127.0.0.1: smart HTTP through `git http-backend`, basic auth under /private/


class GitHandler(http.server.BaseHTTPRequestHandler):
    project_root = ""

    def log_message(self, fmt, *args):  # keep the test output readable
        pass

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def serve(self):
        path, _, query = self.path.partition("?")
        body = self.read_body() if self.command == "POST" else b""
        user = ""
        if path.startswith("/private/"):
            expected = "Basic " + base64.b64encode(f"{GIT_USER}:{GIT_PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="e2e"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            user = GIT_USER
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.project_root, "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
        }
        for header, var in (("Git-Protocol", "GIT_PROTOCOL"),
                            ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GitServer:
    """Bare repositories under <dir>, served on 127.0.0.1 only."""

    def __init__(self, root: Path):
        self.root = root
        handler = type("Handler", (GitHandler,), {"project_root": str(root)})
        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def git(*args: str, cwd: Path | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="e2e", GIT_AUTHOR_EMAIL="e2e@example.invalid",
               GIT_COMMITTER_NAME="e2e", GIT_COMMITTER_EMAIL="e2e@example.invalid",
               GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_fixture_repos(root: Path, server_url: str) -> dict[str, str]:
    """repo.git (a test script and submodule `lib` -> sub.git) and private/repo.git."""
    shas = {}
    scratch = root / "scratch"
    for name, files in (("sub", {"lib.txt": "library v1\n"}),
                        ("private/repo", {"secret.txt": "only with credentials\n"})):
        work = scratch / name
        work.mkdir(parents=True)
        git("init", "-q", "-b", "main", str(work))
        for fname, content in files.items():
            (work / fname).write_text(content)
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", f"{name} initial", cwd=work)
        shas[name] = git("rev-parse", "HEAD", cwd=work)
        git("clone", "-q", "--bare", str(work), str(root / f"{name}.git"))
    work = scratch / "repo"
    work.mkdir()
    git("init", "-q", "-b", "main", str(work))
    (work / "test.sh").write_text('#!/bin/sh\necho "running tests"\n'
                                  'grep -q "library v1" lib/lib.txt && echo "1 test passed"\n')
    (work / ".gitmodules").write_text(f'[submodule "lib"]\n\tpath = lib\n\turl = {server_url}/sub.git\n')
    git("add", "test.sh", ".gitmodules", cwd=work)
    git("update-index", "--add", "--cacheinfo", f"160000,{shas['sub']},lib", cwd=work)
    git("commit", "-q", "-m", "repo with submodule", cwd=work)
    shas["repo"] = git("rev-parse", "HEAD", cwd=work)
    git("clone", "-q", "--bare", str(work), str(root / "repo.git"))
    shutil.rmtree(scratch)
    return shas


# ---------------------------------------------------------------------------------------------
# Tekton-shaped pods


def fnv32a(text: str) -> str:
    h = 0x811C9DC5
    for b in text.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def random_suffix() -> str:
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


class Step:
    def __init__(self, name: str, image: str = STEP_IMAGE_BUSYBOX, *, script: str | None = None,
                 command: list[str] | None = None, args: list[str] | None = None,
                 timeout: str | None = None, on_error: str | None = None,
                 results: list[str] | None = None, working_dir: str | None = None,
                 env: dict[str, str] | None = None, run_as_user: int | None = None):
        self.name, self.image, self.script = name, image, script
        self.command, self.args = command or [], args or []
        self.timeout, self.on_error, self.results = timeout, on_error, results or []
        self.working_dir, self.env, self.run_as_user = working_dir, env or {}, run_as_user


def kubelet_atomic_dir(path: Path, files: dict[str, str], mode: int = 0o644) -> None:
    """Writes files the way the kubelet's atomic writer does (`name -> ..data/name`)."""
    path.mkdir(parents=True, exist_ok=True)
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{random.randrange(10**9)}"
    (path / stamp).mkdir()
    for name, content in files.items():
        (path / stamp / name).write_text(content)
        os.chmod(path / stamp / name, mode)
    tmp = path / "..data_tmp"
    tmp.symlink_to(stamp)
    old = os.readlink(path / "..data") if (path / "..data").is_symlink() else None
    os.replace(tmp, path / "..data")
    if old:
        shutil.rmtree(path / old)
    for name in files:
        if not (path / name).is_symlink():
            (path / name).symlink_to(f"..data/{name}")


class TektonPod:
    """A Pod as Tekton's controller builds it for a TaskRun (HEAD defaults), with host
    directories standing in for emptyDir, downward-API and Secret volumes."""

    def __init__(self, h: "Harness", name: str, steps: list[Step], *,
                 task_results: list[str] | None = None, creds_args: list[str] | None = None,
                 secrets: dict[str, dict[str, str]] | None = None,
                 keep_pod_on_cancel: bool = False, host_network: bool = False):
        self.h, self.name, self.steps = h, name, steps
        self.dir = h.work / "pods" / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.volumes: list[dict] = []
        self.task_results = task_results
        self.creds_args = creds_args or []
        self.secrets = secrets or {}
        self.keep_pod_on_cancel = keep_pod_on_cancel
        self.host_network = host_network

    # -- volumes ------------------------------------------------------------------------------

    def host_volume(self, name: str, kind: str = "Directory") -> Path:
        path = self.dir / "vol" / name
        if not any(v["name"] == name for v in self.volumes):
            if kind == "File":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("")
                os.chmod(path, 0o666)
            else:
                path.mkdir(parents=True, exist_ok=True)
                os.chmod(path, 0o777)  # what the kubelet gives an emptyDir
            self.volumes.append({"name": name, "hostPath": {"path": str(path), "type": kind}})
        return path

    def path(self, volume: str) -> Path:
        return self.dir / "vol" / volume

    @property
    def workspace(self) -> Path:
        return self.path("tekton-internal-workspace")

    def termination_file(self, step: int) -> Path:
        return self.path(f"e2e-termination-{step}")

    def run_dir(self, step: int) -> Path:
        return self.path(f"tekton-internal-run-{step}")

    def container(self, step: int) -> str:
        return f"{self.name}-step-{self.steps[step].name}"

    def implicit_mounts(self) -> list[dict]:
        mounts = []
        for vol, mount, ro in (("tekton-internal-workspace", "/workspace", False),
                               ("tekton-internal-home", "/tekton/home", False),
                               ("tekton-internal-results", "/tekton/results", False),
                               ("tekton-internal-steps", "/tekton/steps", True),
                               ("tekton-internal-artifacts", "/tekton/artifacts", False)):
            self.host_volume(vol)
            mounts.append({"name": vol, "mountPath": mount, "readOnly": ro})
        return mounts

    def set_downward(self, ready: str, cancel: str = "") -> None:
        files = {"ready": ready}
        if self.keep_pod_on_cancel:
            files["cancel"] = cancel
        kubelet_atomic_dir(self.path("tekton-internal-downward"), files)

    # -- the pod ------------------------------------------------------------------------------

    def manifest(self) -> dict:
        ep_image = self.h.images["entrypoint"]
        step_names = [f"step-{s.name}" for s in self.steps]
        self.host_volume("tekton-internal-bin")
        self.host_volume("tekton-internal-steps")
        init = [{
            "name": "prepare", "image": ep_image, "imagePullPolicy": "Never", "workingDir": "/",
            "command": ["/ko-app/entrypoint", "init", "/ko-app/entrypoint",
                        "/tekton/bin/entrypoint", *step_names],
            "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"},
                             {"name": "tekton-internal-steps", "mountPath": "/tekton/steps"}],
        }]
        commands: list[list[str]] = []
        place = ""
        for i, s in enumerate(self.steps):
            if s.script is None:
                commands.append(s.command)
                continue
            script = s.script
            if not script.strip().startswith("#!"):
                script = "#!/bin/sh\nset -e\n" + script
            path = f"/tekton/scripts/script-{i}-{random_suffix()}"
            place += (f'scriptfile="{path}"\ntouch ${{scriptfile}} && chmod +x ${{scriptfile}}\n'
                      f"cat > ${{scriptfile}} << '_EOF_'\n"
                      f"{base64.b64encode(script.encode()).decode()}\n_EOF_\n"
                      f'/tekton/bin/entrypoint decode-script "${{scriptfile}}"\n')
            commands.append([path])
        if place:
            self.host_volume("tekton-internal-scripts")
            init.append({
                "name": "place-scripts", "image": STEP_IMAGE_BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sh"], "args": ["-c", place],
                "volumeMounts": [{"name": "tekton-internal-scripts", "mountPath": "/tekton/scripts"},
                                 {"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}],
            })
        dirs = sorted({os.path.normpath(s.working_dir) for s in self.steps if s.working_dir})
        dirs = [d for d in dirs if not d.startswith("/") or d.startswith("/workspace/")]
        if dirs:
            init.append({
                "name": "working-dir-initializer", "image": self.h.images["workingdirinit"],
                "imagePullPolicy": "Never", "command": ["/ko-app/workingdirinit"], "args": dirs,
                "workingDir": "/workspace", "volumeMounts": self.implicit_mounts(),
            })

        for j in range(len(self.steps)):
            self.host_volume(f"tekton-internal-run-{j}")
        waits_for_ready = True  # no sidecars, but await-sidecar-readiness defaults to true
        if waits_for_ready or self.keep_pod_on_cancel:
            self.host_volume("tekton-internal-downward")
            self.set_downward("")
        for secret, data in self.secrets.items():
            vol = f"tekton-creds-{fnv32a(secret)}"
            kubelet_atomic_dir(self.dir / "vol" / vol, data)
            self.volumes.append({"name": vol, "hostPath": {"path": str(self.dir / "vol" / vol),
                                                          "type": "Directory"}})
        containers = []
        for i, s in enumerate(self.steps):
            args: list[str] = []
            if i == 0:
                if waits_for_ready:
                    args += ["-wait_file", "/tekton/downward/ready", "-wait_file_content"]
            else:
                args += ["-wait_file", f"/tekton/run/{i - 1}/out"]
            args += ["-post_file", f"/tekton/run/{i}/out", "-termination_path", "/tekton/termination",
                     "-step_metadata_dir", f"/tekton/run/{i}/status"]
            args += self.creds_args
            if s.on_error:
                args += ["-on_error", s.on_error]
            if s.timeout:
                args += ["-timeout", s.timeout]
            if s.results:
                args += ["-step_results", ",".join(s.results)]
            if self.task_results is not None:
                args += ["-results", ",".join(self.task_results)]
            cmd = commands[i]
            if cmd:
                args += ["-entrypoint", cmd[0]]
            args += ["--", *cmd[1:], *s.args]

            mounts = self.implicit_mounts()
            mounts.append({"name": "tekton-internal-bin", "mountPath": "/tekton/bin", "readOnly": True})
            for j in range(len(self.steps)):
                mounts.append({"name": f"tekton-internal-run-{j}", "mountPath": f"/tekton/run/{j}",
                               "readOnly": j != i})
            if s.script is not None:
                mounts.append({"name": "tekton-internal-scripts", "mountPath": "/tekton/scripts",
                               "readOnly": True})
            self.host_volume(f"tekton-creds-init-home-{i}")
            mounts.append({"name": f"tekton-creds-init-home-{i}", "mountPath": "/tekton/creds"})
            for secret in self.secrets:
                mounts.append({"name": f"tekton-creds-{fnv32a(secret)}",
                               "mountPath": f"/tekton/creds-secrets/{secret}"})
            if (i == 0 and waits_for_ready) or self.keep_pod_on_cancel:
                mounts.append({"name": "tekton-internal-downward", "mountPath": "/tekton/downward",
                               "readOnly": True})
            # The kubelet bind-mounts a host file at terminationMessagePath.
            self.host_volume(f"e2e-termination-{i}", "File")
            mounts.append({"name": f"e2e-termination-{i}", "mountPath": "/tekton/termination"})
            c = {"name": f"step-{s.name}", "image": s.image, "imagePullPolicy": "Never",
                 "command": ["/tekton/bin/entrypoint"], "args": args,
                 "terminationMessagePath": "/tekton/termination", "volumeMounts": mounts}
            if s.env:
                c["env"] = [{"name": k, "value": v} for k, v in s.env.items()]
            if s.working_dir:
                c["workingDir"] = s.working_dir
            if s.run_as_user is not None:
                c["securityContext"] = {"runAsUser": s.run_as_user, "runAsGroup": s.run_as_user}
            containers.append(c)

        spec = {"restartPolicy": "Never", "initContainers": init, "containers": containers,
                "volumes": self.volumes}
        if self.host_network:
            spec["hostNetwork"] = True
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.name, "labels": {"app.kubernetes.io/managed-by": "tekton-pipelines"},
                             # keep init containers so their logs can be shown on failure
                             "annotations": {"io.podman.annotations.init.container.type": "always"}},
                "spec": spec}

    def play(self) -> None:
        manifest = self.dir / "pod.yaml"
        manifest.write_text(json.dumps(self.manifest(), indent=1))  # JSON is YAML
        args = ["kube", "play"]
        if not self.host_network:
            args += ["--network", "none"]
        self.h.podman.run(*args, str(manifest), timeout=180)

    def ready(self) -> None:
        """The controller's `tekton.dev/ready: READY` annotation, seen through the downward volume."""
        self.set_downward("READY")

    def cancel(self) -> None:
        self.set_downward("READY", "CANCEL")

    def wait(self, timeout: float = POD_TIMEOUT) -> list[int]:
        names = [self.container(i) for i in range(len(self.steps))]
        try:
            self.h.podman.run("wait", *names, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"pod {self.name} still running after {timeout}s\n" + self.logs())
        return [self.exit_code(i) for i in range(len(self.steps))]

    def exit_code(self, step: int) -> int:
        return int(self.h.podman.out("inspect", "--format", "{{.State.ExitCode}}", self.container(step)))

    def running(self, step: int) -> bool:
        return self.h.podman.out("inspect", "--format", "{{.State.Running}}",
                                 self.container(step)) == "true"

    def logs(self) -> str:
        out = []
        names = ["prepare", "place-scripts", "working-dir-initializer"]
        names += [f"step-{s.name}" for s in self.steps]
        for n in names:
            p = self.h.podman.run("logs", f"{self.name}-{n}", check=False, timeout=30)
            if p.returncode == 0:
                text = (p.stdout + p.stderr).decode(errors="replace").strip()
                tail = "\n".join("      " + line for line in text.splitlines()[-15:])
                out.append(f"    --- {n}:\n{tail}")
        return "\n".join(out)

    def status(self, step: int, exit_code: int) -> dict:
        return controller_view(self.termination_file(step).read_text(), exit_code)

    def down(self) -> None:
        self.h.podman.run("pod", "rm", "--force", self.name, check=False, timeout=120)


def parse_message(text: str) -> list[dict]:
    """pkg/termination ParseMessage: optional `tknz:` (raw DEFLATE, unpadded base64)."""
    if not text.strip():
        return []
    if text.startswith("tknz:"):
        raw = text[5:]
        text = zlib.decompress(base64.b64decode(raw + "=" * (-len(raw) % 4)), -15).decode()
    entries = json.loads(text)
    by_key = {e["key"]: e for e in entries if e != {}}  # duplicates: last wins
    return [by_key[k] for k in sorted(by_key)]


def controller_view(message: str, container_exit: int) -> dict:
    """What pkg/pod/status.go makes of a step's termination message and exit code."""
    view = {"exitCode": container_exit, "reason": "Completed" if container_exit == 0 else "Error",
            "results": {}, "stepResults": {}, "internal": {}, "raw": message}
    for e in parse_message(message):
        t = e.get("type", 0)
        if t in (3, "InternalTektonResult"):
            view["internal"][e["key"]] = e["value"]
        elif t in (1, "TaskRunResult"):
            view["results"][e["key"]] = e["value"]
        elif t in (4, "StepResult"):
            view["stepResults"][e["key"]] = e["value"]
    internal = view["internal"]
    if "ExitCode" in internal:
        view["exitCode"] = int(internal["ExitCode"])
    if "Reason" in internal:
        view["reason"] = internal["Reason"]
    elif "ExitCode" in internal:
        view["reason"] = "Continued"
    return view


# ---------------------------------------------------------------------------------------------
# harness


class Harness:
    def __init__(self, work: Path, images_dir: Path):
        self.work = work
        self.images_dir = images_dir
        self.podman = Podman(work)
        self.images: dict[str, str] = {}
        self.git: GitServer | None = None
        self.shas: dict[str, str] = {}
        self.passed: list[str] = []
        self.failed: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed.append(name)
            print(f"  ok    {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def equal(self, name: str, got, want) -> bool:
        return self.check(name, got == want, f"got {got!r}, want {want!r}")

    def setup(self) -> None:
        t0 = time.monotonic()
        info = self.podman.run("info", check=False, timeout=120)
        if info.returncode != 0:
            raise Skip(f"`podman info` failed: {info.stderr.decode(errors='replace').strip()}")
        self.images = load_images(self.podman, self.images_dir)
        build_step_images(self.podman, self.work)
        probe = self.podman.run("run", "--rm", "--network", "none", STEP_IMAGE_BUSYBOX,
                                "/bin/sh", "-c", "echo ok", check=False, timeout=120)
        if probe.returncode != 0 or probe.stdout.strip() != b"ok":
            raise Skip("podman cannot run a container here: "
                       + probe.stderr.decode(errors="replace").strip())
        repos = self.work / "git"
        shutil.rmtree(repos, ignore_errors=True)
        repos.mkdir()
        self.git = GitServer(repos)
        self.shas = make_fixture_repos(repos, self.git.url)
        print(f"e2e: setup done in {time.monotonic() - t0:.1f}s "
              f"(images: {', '.join(sorted(self.images.values()))})")

    def teardown(self) -> None:
        if self.git:
            self.git.stop()
        self.podman.cleanup()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# scenarios


def scenario_clone_test_report(h: Harness) -> None:
    """git-init clones a repository with a submodule from 127.0.0.1; a script step runs its
    test and writes a task result and a step result; a later step reads both."""
    url = f"{h.git.url}/repo.git"
    steps = [
        Step("clone", h.images["git-init"], command=["/ko-app/git-init"],
             args=[f"-url={url}", "-revision=main", "-refspec=", "-path=/workspace/output",
                   "-sslVerify=true", "-submodules=true", "-depth=1",
                   "-sparseCheckoutDirectories=", "-submodulePaths=", "-userFriendlyErrors=true"],
             env={"HOME": "/tekton/home"}),
        Step("test", script="cd /workspace/output\nsh ./test.sh > /workspace/test.log\n"
                            "cat /workspace/test.log\n"
                            "printf passed > /tekton/results/test-status\n"
                            "tr -d '\\n' < lib/lib.txt > /tekton/steps/step-test/results/report\n",
             results=["report"], working_dir="/workspace/output"),
        Step("report", script='echo "$REPORT/$(cat /tekton/results/test-status)" '
                              "> /workspace/output/final.txt\n",
             env={"REPORT": "$(steps.test.results.report)"}),
    ]
    pod = TektonPod(h, "e2e-clone", steps,
                    task_results=["commit", "url", "committer-date", "test-status"],
                    host_network=True)
    try:
        pod.play()
        pod.ready()
        codes = pod.wait()
        if not h.equal("clone: exit codes", codes, [0, 0, 0]):
            print(pod.logs())
        clone = pod.status(0, codes[0])
        ws = pod.workspace / "output"
        h.equal("clone: checked-out commit", git_head(ws), h.shas["repo"])
        h.check("clone: submodule checked out", (ws / "lib/lib.txt").is_file(),
                "lib/lib.txt missing (submodule not initialised)")
        h.equal("clone: task result commit", clone["results"].get("commit"), h.shas["repo"])
        h.equal("clone: task result url", clone["results"].get("url"), url)
        h.equal("clone: task result committer-date", clone["results"].get("committer-date"),
                git("log", "-1", "--pretty=%ct", "main", cwd=h.work / "git/repo.git"))
        test = pod.status(1, codes[1])
        h.equal("test: task result test-status", test["results"].get("test-status"), "passed")
        h.equal("test: step result report", test["stepResults"].get("report"), "library v1")
        h.check("test: test output in workspace",
                "1 test passed" in read(pod.workspace / "test.log"), read(pod.workspace / "test.log"))
        h.equal("report: read step result and task result", read(ws / "final.txt"),
                "library v1/passed\n")
        h.check("report: StartedAt in termination message",
                STARTED_AT.fullmatch(pod.status(2, codes[2])["internal"].get("StartedAt", ""))
                is not None, pod.termination_file(2).read_text())
    finally:
        pod.down()


def git_head(repo: Path) -> str:
    try:
        return git("-c", f"safe.directory={repo}", "rev-parse", "HEAD", cwd=repo)
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError) as err:
        return f"<no repository: {err}>"


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as err:
        return f"<unreadable: {err}>"


def scenario_credentials(h: Harness) -> None:
    """Build-and-push shape: basic-auth docker and git secrets mounted like the kubelet does,
    passed as -basic-docker/-basic-git; a uid-65532 step with an unwritable HOME still finds the
    docker config and git credentials; a root step with a writable HOME gets them copied."""
    git_url = h.git.url
    private = f"{git_url}/private/repo.git"
    check_script = (
        'cfg="${DOCKER_CONFIG:-$HOME/.docker}/config.json"\n'
        'echo "HOME=$HOME DOCKER_CONFIG=${DOCKER_CONFIG:-} GIT_CONFIG_GLOBAL=${GIT_CONFIG_GLOBAL:-}"\n'
        f'grep -q \'"{DOCKER_REGISTRY}"\' "$cfg" && echo docker-config-found > "$OUT.docker"\n'
        f'grep -q "$(printf %s {DOCKER_USER}:{DOCKER_PASSWORD} | base64)" "$cfg" '
        '&& echo docker-auth-found >> "$OUT.docker"\n'
        f"GIT_TERMINAL_PROMPT=0 git ls-remote {private} > \"$OUT.git\"\n"
    )
    # onError continue: the second step runs (and is checked) whatever the first one does.
    steps = [
        Step("build", STEP_IMAGE_GIT, script=check_script, run_as_user=65532, on_error="continue",
             env={"HOME": "/readonly-home", "OUT": "/workspace/nonroot"}),
        Step("push", STEP_IMAGE_GIT, script=check_script,
             env={"HOME": "/tekton/home", "OUT": "/workspace/root"}),
    ]
    secrets = {
        "docker-basic": {"username": DOCKER_USER, "password": DOCKER_PASSWORD},
        "git-basic": {"username": GIT_USER, "password": GIT_PASSWORD},
    }
    pod = TektonPod(h, "e2e-creds", steps, secrets=secrets, host_network=True,
                    creds_args=[f"-basic-docker=docker-basic={DOCKER_REGISTRY}",
                                f"-basic-git=git-basic={git_url}"])
    try:
        pod.play()
        pod.ready()
        codes = pod.wait()
        views = [pod.status(i, c) for i, c in enumerate(codes)]
        if not h.equal("creds: step exit codes", [v["exitCode"] for v in views], [0, 0]):
            print(pod.logs())
        ws = pod.workspace
        want_ls = f"{h.shas['private/repo']}\tHEAD"
        for who in ("nonroot", "root"):
            h.equal(f"creds: {who} step found docker config", read(ws / f"{who}.docker"),
                    "docker-config-found\ndocker-auth-found\n")
            h.check(f"creds: {who} step authenticated to git", want_ls in read(ws / f"{who}.git"),
                    read(ws / f"{who}.git"))
        creds = pod.path("tekton-creds-init-home-0")
        h.check("creds: /tekton/creds/.docker/config.json written",
                (creds / ".docker/config.json").is_file())
        h.check("creds: /tekton/creds/.git-credentials written", (creds / ".git-credentials").is_file())
        home = pod.path("tekton-internal-home")
        h.check("creds: copied to the root step's HOME",
                (home / ".docker/config.json").is_file() and (home / ".git-credentials").is_file())
    finally:
        pod.down()


def scenario_failure(h: Harness) -> None:
    """A failing step: onError continue is reported as Continued with the real exit code, a
    plain failure keeps its exit code, and every later step is Skipped without running."""
    steps = [
        Step("ok", script="echo fine\n"),
        Step("soft-fail", script="exit 4\n", on_error="continue"),
        Step("fail", script="echo failing; exit 3\n"),
        Step("never", script="touch /workspace/never-ran\n"),
    ]
    pod = TektonPod(h, "e2e-fail", steps)
    try:
        pod.play()
        pod.ready()
        codes = pod.wait()
        h.equal("fail: container exit codes", codes, [0, 0, 3, 1])
        views = [pod.status(i, c) for i, c in enumerate(codes)]
        h.equal("fail: ok step", (views[0]["exitCode"], views[0]["reason"]), (0, "Completed"))
        h.equal("fail: onError continue step", (views[1]["exitCode"], views[1]["reason"]), (4, "Continued"))
        h.equal("fail: exitCode file of continued step",
                read(pod.run_dir(1) / "status/exitCode"), "4")
        h.equal("fail: failing step", (views[2]["exitCode"], views[2]["reason"]), (3, "Error"))
        h.check("fail: failing step wrote out.err", (pod.run_dir(2) / "out.err").exists()
                and not (pod.run_dir(2) / "out").exists())
        h.equal("fail: later step", (views[3]["exitCode"], views[3]["reason"]), (1, "Skipped"))
        h.check("fail: later step did not run", not (pod.workspace / "never-ran").exists())
    finally:
        pod.down()


def scenario_timeout(h: Harness) -> None:
    """-timeout 2s on a sleeping step: exit 1, Reason TimeoutExceeded, next step Skipped."""
    steps = [Step("slow", script="sleep 60\n", timeout="2s"), Step("after", script="true\n")]
    pod = TektonPod(h, "e2e-timeout", steps, task_results=[])
    try:
        pod.play()
        t0 = time.monotonic()
        pod.ready()
        codes = pod.wait(timeout=50)
        elapsed = time.monotonic() - t0
        views = [pod.status(i, c) for i, c in enumerate(codes)]
        h.equal("timeout: exit codes", codes, [1, 1])
        h.equal("timeout: reason", views[0]["reason"], "TimeoutExceeded")
        h.equal("timeout: next step", views[1]["reason"], "Skipped")
        h.check("timeout: the step was stopped early", elapsed < 40, f"took {elapsed:.1f}s")
    finally:
        pod.down()


def scenario_cancel(h: Harness) -> None:
    """keep-pod-on-cancel: the cancel file gets content while a step sleeps: exit 9, Reason
    Cancelled, exitCode file `killed`, next step Skipped."""
    steps = [Step("sleeper", script="touch /workspace/started\nsleep 60\n"),
             Step("after", script="touch /workspace/after-ran\n")]
    pod = TektonPod(h, "e2e-cancel", steps, keep_pod_on_cancel=True)
    try:
        pod.play()
        pod.ready()
        wait_for(lambda: (pod.workspace / "started").exists(), 30, "the step to start")
        time.sleep(0.3)
        pod.cancel()
        codes = pod.wait(timeout=40)
        views = [pod.status(i, c) for i, c in enumerate(codes)]
        h.equal("cancel: exit codes", codes, [9, 1])
        h.equal("cancel: reason", views[0]["reason"], "Cancelled")
        h.equal("cancel: exitCode file", read(pod.run_dir(0) / "status/exitCode"), "killed")
        h.equal("cancel: next step", views[1]["reason"], "Skipped")
        h.check("cancel: next step did not run", not (pod.workspace / "after-ran").exists())
    finally:
        pod.down()


def scenario_killed(h: Harness) -> None:
    """The step container is SIGKILLed from outside (OOM, eviction): the next step notices the
    dead predecessor and fails as Skipped within about a second instead of waiting forever."""
    steps = [Step("victim", script="touch /workspace/started\nsleep 60\n"),
             Step("next", script="touch /workspace/next-ran\n")]
    pod = TektonPod(h, "e2e-killed", steps)
    try:
        pod.play()
        pod.ready()
        wait_for(lambda: (pod.workspace / "started").exists(), 30, "the step to start")
        time.sleep(0.3)
        h.podman.run("kill", "--signal", "KILL", pod.container(0))
        t0 = time.monotonic()
        try:
            h.podman.run("wait", pod.container(1), timeout=20)
        except subprocess.TimeoutExpired:
            h.check("killed: next step ended", False, "still waiting 20s after the kill (hangs)")
            return
        elapsed = time.monotonic() - t0
        codes = [pod.exit_code(0), pod.exit_code(1)]
        h.equal("killed: victim exit code", codes[0], 137)
        h.check("killed: next step failed", codes[1] != 0, f"exit {codes[1]}")
        h.equal("killed: next step reason", pod.status(1, codes[1])["reason"], "Skipped")
        h.check("killed: next step did not run", not (pod.workspace / "next-ran").exists())
        h.check("killed: next step ended within 5s", elapsed < 5, f"took {elapsed:.1f}s")
        print(f"        (next step ended {elapsed:.2f}s after the kill)")
    finally:
        pod.down()


def scenario_nop(h: Harness) -> None:
    """nop image: exits 0 with any arguments; with tekton_run_indefinitely it idles until
    SIGTERM and then exits 0."""
    name = "e2e-nop"
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "containers": [
            {"name": "stopped-sidecar", "image": h.images["nop"], "imagePullPolicy": "Never",
             "args": ["--some", "sidecar", "args"]},
            {"name": "affinity-assistant", "image": h.images["nop"], "imagePullPolicy": "Never",
             "args": ["tekton_run_indefinitely"]}]}}
    path = h.work / "pods" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    try:
        h.podman.run("kube", "play", "--network", "none", str(path))
        h.podman.run("wait", f"{name}-stopped-sidecar", timeout=30)
        h.equal("nop: exits 0 with any arguments",
                int(h.podman.out("inspect", "--format", "{{.State.ExitCode}}", f"{name}-stopped-sidecar")), 0)
        time.sleep(1)
        running = h.podman.out("inspect", "--format", "{{.State.Running}}", f"{name}-affinity-assistant")
        h.equal("nop: tekton_run_indefinitely keeps running", running, "true")
        h.podman.run("stop", "--time", "20", f"{name}-affinity-assistant", timeout=60)
        h.equal("nop: SIGTERM ends it with exit 0",
                int(h.podman.out("inspect", "--format", "{{.State.ExitCode}}", f"{name}-affinity-assistant")), 0)
        logs = h.podman.run("logs", f"{name}-affinity-assistant").stderr.decode(errors="replace")
        h.check("nop: logs the signal", "received signal: terminated" in logs, logs)
    finally:
        h.podman.run("pod", "rm", "--force", name, check=False, timeout=120)


def scenario_creds_init(h: Harness) -> None:
    """Legacy creds-init image as the pre-v0.14 `credential-initializer` init container: writes
    docker and git credentials from kubelet-style Secret mounts into /tekton/creds."""
    name = "e2e-creds-init"
    pod_dir = h.work / "pods" / name
    shutil.rmtree(pod_dir, ignore_errors=True)
    creds = pod_dir / "creds"
    creds.mkdir(parents=True)
    os.chmod(creds, 0o777)
    volumes = [{"name": "tekton-creds", "hostPath": {"path": str(creds), "type": "Directory"}}]
    mounts = [{"name": "tekton-creds", "mountPath": "/tekton/creds"}]
    for secret, data in (("docker-basic", {"username": DOCKER_USER, "password": DOCKER_PASSWORD}),
                         ("git-basic", {"username": GIT_USER, "password": GIT_PASSWORD})):
        vol = f"tekton-creds-{fnv32a(secret)}"
        kubelet_atomic_dir(pod_dir / vol, data)
        volumes.append({"name": vol, "hostPath": {"path": str(pod_dir / vol), "type": "Directory"}})
        mounts.append({"name": vol, "mountPath": f"/tekton/creds-secrets/{secret}"})
    git_url = "https://git.example.com"
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "annotations": {"io.podman.annotations.init.container.type": "always"}},
        "spec": {"restartPolicy": "Never", "volumes": volumes,
                 "initContainers": [{
                     "name": "credential-initializer", "image": h.images["creds-init"],
                     "imagePullPolicy": "Never", "command": ["/ko-app/creds-init"],
                     "args": [f"-basic-docker=docker-basic={DOCKER_REGISTRY}",
                              f"-basic-git=git-basic={git_url}"],
                     "volumeMounts": mounts}],
                 "containers": [{
                     "name": "step", "image": STEP_IMAGE_BUSYBOX, "imagePullPolicy": "Never",
                     "command": ["sh", "-c", "ls -a /tekton/creds"], "volumeMounts": mounts}]}}
    path = pod_dir / "pod.yaml"
    path.write_text(json.dumps(manifest))
    try:
        h.podman.run("kube", "play", "--network", "none", str(path))
        h.podman.run("wait", f"{name}-step", timeout=60)
        auth = base64.b64encode(f"{DOCKER_USER}:{DOCKER_PASSWORD}".encode()).decode()
        h.equal("creds-init: .docker/config.json", read(creds / ".docker/config.json"),
                json.dumps({"auths": {DOCKER_REGISTRY: {
                    "username": DOCKER_USER, "password": DOCKER_PASSWORD, "auth": auth,
                    "email": "not@val.id"}}}, separators=(",", ":")))
        h.equal("creds-init: .gitconfig", read(creds / ".gitconfig"),
                f'[credential]\n\thelper = store\n[credential "{git_url}"]\n\tusername = {GIT_USER}\n')
        h.equal("creds-init: .git-credentials", read(creds / ".git-credentials"),
                f"https://{GIT_USER}:{GIT_PASSWORD}@git.example.com\n")
        logs = h.podman.run("logs", f"{name}-credential-initializer", check=False)
        h.check("creds-init: logs Credentials initialized.",
                b"Credentials initialized." in logs.stdout + logs.stderr,
                (logs.stdout + logs.stderr).decode(errors="replace"))
    finally:
        h.podman.run("pod", "rm", "--force", name, check=False, timeout=120)


def yaml_list_after(text: str, key: str) -> list[str]:
    """The plain-scalar items of the block list under `key` in kubectl's YAML output."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        col = line.find(key)
        if col >= 0 and line[:col].strip() in ("", "-"):
            items = []
            for item in lines[n + 1:]:
                if not item.startswith(" " * col + "- "):
                    break
                items.append(item[col + 2:].strip())
            return items
    return []


def scenario_deploy(h: Harness) -> None:
    """deploy/ renders with kustomize (kubectl's or the standalone one) against a stand-in release
    manifest and ends the controller's args with the stepkit images."""
    if shutil.which("kubectl"):
        render = [shutil.which("kubectl"), "kustomize"]
    elif shutil.which("kustomize"):
        render = [shutil.which("kustomize"), "build"]
    else:
        # Nothing may be skipped under STEPKIT_REQUIRE_ALL=1 (CI installs kustomize).
        h.check("deploy: kubectl or kustomize installed",
                os.environ.get("STEPKIT_REQUIRE_ALL") != "1", "neither is on PATH")
        print("    (neither kubectl nor kustomize installed: deploy/ overlay not rendered)")
        return
    base = h.work / "kustomize"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    release = "https://storage.googleapis.com/tekton-releases/pipeline/previous/v1.15.0/release.yaml"
    text = (ROOT / "deploy/kustomization.yaml").read_text()
    h.check("deploy: kustomization names the pinned release", release in text)
    (base / "kustomization.yaml").write_text(text.replace(release, "release.yaml"))
    shutil.copy(ROOT / "deploy/controller-images.yaml", base)
    shutil.copy(ROOT / "tests/e2e/fixtures/tekton-controller.yaml", base / "release.yaml")
    out = subprocess.run(render + [str(base)], capture_output=True, text=True)
    if not h.check("deploy: " + " ".join(os.path.basename(a) for a in render), out.returncode == 0, out.stderr):
        return
    args = yaml_list_after(out.stdout, "args:")
    h.equal("deploy: controller args end with stepkit images", args[-8:], [
        "-entrypoint-image", "ghcr.io/stepkit/entrypoint:0.1.0",
        "-workingdirinit-image", "ghcr.io/stepkit/workingdirinit:0.1.0",
        "-nop-image", "ghcr.io/stepkit/nop:0.1.0",
        "-sidecarlogresults-image", "ghcr.io/stepkit/sidecarlogresults:0.1.0"])


SCENARIOS = {
    "clone": scenario_clone_test_report,
    "credentials": scenario_credentials,
    "failure": scenario_failure,
    "timeout": scenario_timeout,
    "cancel": scenario_cancel,
    "killed": scenario_killed,
    "nop": scenario_nop,
    "creds-init": scenario_creds_init,
    "deploy": scenario_deploy,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="directory of <name>.oci.tar")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (removed)")
    parser.add_argument("scenarios", nargs="*", help=f"subset of: {', '.join(SCENARIOS)}")
    opts = parser.parse_args()
    unknown = [s for s in opts.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    chosen = opts.scenarios or list(SCENARIOS)

    # Turn SIGTERM/SIGINT into an exception so the cleanup below always runs.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    opts.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run.", dir=opts.work))
    h = Harness(work, opts.images.resolve())
    t0 = time.monotonic()
    try:
        try:
            h.setup()
        except Skip as why:
            print(f"e2e: skipped: {why}")
            if "1" in (os.environ.get("STEPKIT_E2E_REQUIRE"), os.environ.get("STEPKIT_REQUIRE_ALL")):
                return 1
            return 0
        for name in chosen:
            print(f"--- {name}: {SCENARIOS[name].__doc__.split(chr(10))[0]}")
            s0 = time.monotonic()
            try:
                SCENARIOS[name](h)
            except Failure as err:
                h.check(f"{name}: scenario ran", False, str(err))
            except Exception:  # a harness bug must not hide the other scenarios
                h.check(f"{name}: scenario ran", False, traceback.format_exc())
            print(f"    ({time.monotonic() - s0:.1f}s)")
    except KeyboardInterrupt:
        print("e2e: interrupted", file=sys.stderr)
        h.failed.append("interrupted")
    finally:
        h.teardown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"e2e: total {time.monotonic() - t0:.1f}s")
    if h.failed:
        print("e2e: failed checks: " + ", ".join(h.failed))
    print(f"e2e: {len(h.passed)} passed, {len(h.failed)} failed")
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
