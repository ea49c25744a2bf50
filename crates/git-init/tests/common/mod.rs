//! Test fixtures: repositories built with the git CLI and a `git daemon` on 127.0.0.1.

#![allow(dead_code)]

pub mod front;
pub mod httpgit;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment that keeps the machine's git configuration out of the tests.
pub fn git_env(cmd: &mut Command, home: &Path) {
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z");
}

/// Runs `git <args>` in `dir`; panics with the output on failure.
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let out = git_out(home, dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

pub fn git_out(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir);
    git_env(&mut cmd, home);
    cmd.output().expect("run git")
}

/// `<root>/home`, created: the `HOME` of the git commands and of git-init in a test.
pub fn make_home(root: &Path) -> PathBuf {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// True when the git CLI is missing, after [`testsupport::skip`] (a failure under
/// `STEPKIT_REQUIRE_ALL=1`).
pub fn skip_without_git() -> bool {
    testsupport::need_tool("git").is_none()
}

pub fn write(path: &Path, content: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// The `git-daemon` program, run directly (not through the `git` wrapper, which a kill would
/// stop while leaving the daemon it forked running).
pub fn git_daemon_program() -> Result<PathBuf, String> {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .map_err(|e| format!("git CLI not installed: {e}"))?;
    let program = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon");
    if !program.exists() {
        return Err(format!(
            "git daemon not installed ({} missing; Debian package `git`)",
            program.display()
        ));
    }
    Ok(program)
}

/// Whether the git CLI and `git daemon` are installed.
pub fn daemon_available() -> Result<(), String> {
    git_daemon_program().map(drop)
}

/// True when the git CLI or `git daemon` is missing, after [`testsupport::skip`].
pub fn skip_without_daemon() -> bool {
    match daemon_available() {
        Ok(()) => false,
        Err(why) => {
            testsupport::skip(why);
            true
        }
    }
}

/// A `git daemon` serving `base` on a free 127.0.0.1 port; on drop its process group (the
/// daemon and its per-connection children) is killed.
pub struct Daemon {
    _process: testsupport::GroupChild,
    pub port: u16,
}

impl Daemon {
    pub fn start(base: &Path, home: &Path) -> Daemon {
        let port = free_port();
        let program = git_daemon_program().expect("git daemon");
        let mut cmd = Command::new(program);
        cmd.args([
            "--reuseaddr",
            &format!("--base-path={}", base.display()),
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        git_env(&mut cmd, home);
        let process = testsupport::GroupChild::spawn(&mut cmd).expect("start git daemon");
        let d = Daemon {
            _process: process,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Result of one git-init run.
pub struct Run {
    pub code: i32,
    pub stderr: String,
    pub stdout: String,
}

impl Run {
    /// stderr lines that are JSON objects.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    pub fn messages(&self) -> Vec<String> {
        self.json_lines()
            .iter()
            .map(|v| v["msg"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// Runs the git-init binary with a clean environment rooted at `root`.
pub fn git_init(root: &Path, args: &[&str]) -> Run {
    git_init_env(root, args, &[])
}

pub fn git_init_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = git_init_command(root, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The git-init binary with `args`, a clean environment and `/tekton` under `root`.
pub fn git_init_command(root: &Path, args: &[&str]) -> Command {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-init"));
    cmd.args(args).current_dir(root);
    git_env(&mut cmd, &home);
    cmd.env("STEPKIT_TEKTON_DIR", root.join("tekton"))
        .env("STEPKIT_WORKSPACE_DIR", root.join("workspace"));
    cmd
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run git-init");
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// A new, empty repository at `dir` on `branch`.
pub fn new_repo(home: &Path, dir: &Path, branch: &str) {
    std::fs::create_dir_all(dir).unwrap();
    git(home, dir, &["init", "-q", "-b", branch]);
}

/// Writes `files` into `repo` and commits all of it; returns the new commit's SHA.
pub fn commit_files(home: &Path, repo: &Path, files: &[(&str, &str)], msg: &str) -> String {
    for (p, c) in files {
        write(&repo.join(p), c);
    }
    git(home, repo, &["add", "-A"]);
    git(home, repo, &["commit", "-q", "-m", msg]);
    git(home, repo, &["rev-parse", "HEAD"])
}

/// `git submodule add -q <url> <path>` in `repo`, file-protocol URLs allowed.
pub fn submodule_add(home: &Path, repo: &Path, url: &str, path: &str) {
    git(
        home,
        repo,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            url,
            path,
        ],
    );
}

/// A repository at `repo` on branch `main` with one commit adding `file`; returns its SHA.
pub fn one_commit_repo(home: &Path, repo: &Path, file: &str, content: &str) -> String {
    std::fs::create_dir_all(repo).unwrap();
    git(home, repo, &["init", "-q", "-b", "main"]);
    write(&repo.join(file), content);
    git(home, repo, &["add", "."]);
    git(home, repo, &["commit", "-q", "-m", "one"]);
    git(home, repo, &["rev-parse", "HEAD"])
}

/// Every file under `dir` (relative, sorted), skipping `.git` entries.
pub fn tree_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            if name == ".git" {
                continue;
            }
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                let content = std::fs::read(&p).unwrap_or_default();
                out.push(format!("{rel}:{}", content.len()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
