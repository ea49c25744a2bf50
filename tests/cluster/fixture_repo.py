"""Creates the bare repositories the git daemon serves: app.git, a small Go module whose `lib`
submodule (a package its test imports) points at git://192.0.2.1/lib.git, and tekton-demo.git,
the seed tutorial's Go program (the node IP, reachable from pods only). Author,
committer and dates are fixed, so the commit ids are the same on every run.

usage: fixture_repo.py <base-path>
"""

import os
import pathlib
import subprocess
import sys
import tempfile

NODE_URL = "git://192.0.2.1"
ENV = {
    "GIT_AUTHOR_NAME": "stepkit e2e", "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
    "GIT_COMMITTER_NAME": "stepkit e2e", "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: pathlib.Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
                   cwd=cwd, env={**os.environ, **ENV}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def commit_tree(work: pathlib.Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)


def main() -> int:
    base = pathlib.Path(sys.argv[1])
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lib = pathlib.Path(tmp, "lib")
        lib.mkdir()
        git(lib, "init", "-q")
        commit_tree(lib, {"greet.go": "package lib\n\nfunc Greet() string { return \"hello\" }\n"}, "lib")
        git(base, "clone", "-q", "--bare", str(lib), "lib.git")

        app = pathlib.Path(tmp, "app")
        app.mkdir()
        git(app, "init", "-q")
        commit_tree(app, {
            "go.mod": "module example.invalid/app\n\ngo 1.22\n",
            # the test needs the submodule's package: `go test ./...` passes only on a full clone
            "app_test.go": ("package app\n\nimport (\n\t\"testing\"\n\n\t\"example.invalid/app/lib\"\n)\n\n"
                            "func TestGreet(t *testing.T) {\n\tif got := lib.Greet(); got != \"hello\" {\n"
                            "\t\tt.Fatalf(\"Greet() = %q\", got)\n\t}\n}\n"),
            "README": "fixture for stepkit's cluster e2e\n",
        }, "app")
        git(app, "submodule", "add", "-q", str(base / "lib.git"), "lib")
        git(app, "config", "-f", ".gitmodules", "submodule.lib.url", f"{NODE_URL}/lib.git")
        git(app, "add", ".gitmodules", "lib")
        git(app, "commit", "-q", "-m", "lib as a submodule")
        git(base, "clone", "-q", "--bare", str(app), "app.git")

        # The seed tutorial's repository, as its Tasks expect it: a Go program and its test in
        # GOPATH mode (no go.mod: `go test` prints `ok _/workspace/repo`), a Dockerfile, branch
        # master.
        demo = pathlib.Path(tmp, "tekton-demo")
        demo.mkdir()
        git(demo, "init", "-q", "-b", "master")
        commit_tree(demo, {
            "main.go": ("package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\n"
                        "func greeting() string { return \"Hello Tekton\" }\n\n"
                        "func main() {\n\thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) {\n"
                        "\t\tfmt.Fprintln(w, greeting())\n\t})\n\t_ = http.ListenAndServe(\":8080\", nil)\n}\n"),
            "main_test.go": ("package main\n\nimport \"testing\"\n\n"
                             "func TestGreeting(t *testing.T) {\n\tif got := greeting(); got != \"Hello Tekton\" {\n"
                             "\t\tt.Fatalf(\"greeting() = %q\", got)\n\t}\n}\n"),
            "Dockerfile": ("FROM golang:1.14-alpine AS build\nWORKDIR /src\nCOPY . .\n"
                           "RUN CGO_ENABLED=0 go build -o /demo .\nFROM scratch\nCOPY --from=build /demo /demo\n"
                           "ENTRYPOINT [\"/demo\"]\n"),
        }, "tekton demo")
        git(base, "clone", "-q", "--bare", str(demo), "tekton-demo.git")
    return 0


if __name__ == "__main__":
    sys.exit(main())
