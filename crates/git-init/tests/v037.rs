//! git-init's Pipelines v0.37.2 flavour against upstream's v0.37.2 git-init itself.
//!
//! The oracle is built from the module cache (`go mod download` of
//! `github.com/tektoncd/pipeline@v0.37.2`, a `go.work` naming it, `testsupport::go_build`)
//! and runs the git CLI. Both binaries get the controller's argv for a `git` PipelineResource
//! (`-url U -path <ws>/<name> [-revision R] …`, `TEKTON_RESOURCE_NAME=<name>`) against the
//! same fixtures served by `git daemon`, each in a root of its own (paths are compared with
//! the root replaced). Compared: exit code, every log line byte for byte but for `ts` and
//! the stack trace, the termination file's bytes, and the clone as the git CLI sees it.
//! Without Go, git or the module the test calls `testsupport::skip` (a failure under
//! `STEPKIT_REQUIRE_ALL=1`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const MODULE: &str = "github.com/tektoncd/pipeline@v0.37.2";

/// Upstream's v0.37.2 git-init, or `None` after a skip.
fn oracle() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        testsupport::need_tool("go")?;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("v037-oracle");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("go")
            .args(["mod", "download", "-json", MODULE])
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off")
            .current_dir(&dir)
            .output()
            .expect("run go mod download");
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let Some(module_dir) = info["Dir"].as_str().filter(|_| out.status.success()) else {
            testsupport::skip(format!(
                "cannot get {MODULE} from the module cache or proxy: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            return None;
        };
        // A workspace naming the module: builds its command from any directory.
        let work = dir.join("go.work");
        std::fs::write(&work, format!("go 1.22\n\nuse {module_dir}\n")).unwrap();
        testsupport::go_build(
            &Path::new(module_dir).join("cmd/git-init"),
            &dir.join("git-init"),
            &[("GOWORK", work.to_str().unwrap())],
        )
    })
    .as_deref()
}

struct Fixture {
    srv: PathBuf,
    home: PathBuf,
    /// `repo`'s commits: master's parent, and feature's tip.
    parent: String,
    feature: String,
}

/// `repo` (master with tags, feature), and `super` with submodules `sub` and `libs/nested`
/// (which has `deps/leaf`), all on `master` like the seed's repository.
fn build(root: &Path) -> Fixture {
    let home = make_home(root);
    let srv = root.join("srv");
    let r = srv.join("repo");
    new_repo(&home, &r, "master");
    git(
        &home,
        &r,
        &["config", "uploadpack.allowReachableSHA1InWant", "true"],
    );
    commit_files(&home, &r, &[("main.go", "package main\n")], "one");
    git(&home, &r, &["tag", "-a", "v1", "-m", "v1"]);
    let parent = commit_files(&home, &r, &[("README.md", "two\n")], "two");
    git(&home, &r, &["checkout", "-q", "-b", "feature"]);
    let feature = commit_files(&home, &r, &[("feature.txt", "f\n")], "feature");
    git(&home, &r, &["checkout", "-q", "master"]);
    commit_files(
        &home,
        &r,
        &[("README.md", "three\n"), ("a/b.txt", "b\n")],
        "three",
    );
    git(&home, &r, &["tag", "lt"]);

    let leaf = srv.join("leaf");
    new_repo(&home, &leaf, "master");
    commit_files(&home, &leaf, &[("leaf.txt", "leaf\n")], "leaf");
    let nested = srv.join("nested");
    new_repo(&home, &nested, "master");
    commit_files(&home, &nested, &[("nested.txt", "nested\n")], "nested");
    submodule_add(&home, &nested, "../leaf", "deps/leaf");
    git(&home, &nested, &["commit", "-q", "-m", "add leaf"]);
    let sub = srv.join("sub");
    new_repo(&home, &sub, "master");
    commit_files(&home, &sub, &[("s.txt", "s1\n")], "s1");
    let sup = srv.join("super");
    new_repo(&home, &sup, "master");
    commit_files(&home, &sup, &[("top.txt", "top\n")], "top");
    submodule_add(&home, &sup, "../sub", "sub");
    submodule_add(&home, &sup, "../nested", "libs/nested");
    git(&home, &sup, &["commit", "-q", "-m", "subs"]);
    Fixture {
        srv,
        home,
        parent,
        feature,
    }
}

/// What one binary did for one case.
#[derive(Debug, PartialEq)]
struct Observed {
    code: i32,
    /// stderr, with `ts` and the stack trace blanked and the root replaced.
    log: Vec<String>,
    termination: Option<String>,
    /// The clone as the git CLI sees it.
    repo: Vec<(String, String)>,
    global_config: String,
}

/// A zap line with its timestamp and stack trace blanked (the rest compared byte for byte).
fn blank_volatile(line: &str) -> String {
    let mut s = line.to_string();
    if let Some(i) = s.find("\"ts\":") {
        let end = s[i..].find(',').map_or(s.len(), |e| i + e);
        s.replace_range(i..end, "\"ts\":0");
    }
    if let Some(i) = s.find(",\"stacktrace\":\"") {
        s.replace_range(i.., ",\"stacktrace\":\"…\"}");
    }
    s
}

/// What is at the termination path before the run.
#[derive(Clone)]
enum Before {
    Nothing,
    Text(String),
    /// A directory (the write fails).
    Directory,
}

/// Runs `program` with v0.37.2's PipelineResource argv and environment in `side` (a root of
/// its own), then inspects the clone with the git CLI.
fn observe(program: &Path, side: &Path, name: &str, args: &[&str], before: &Before) -> Observed {
    let home = make_home(side);
    let path = side.join("workspace").join(name);
    let term = side.join("termination");
    std::fs::create_dir_all(side).unwrap();
    match before {
        Before::Nothing => {}
        Before::Text(text) => std::fs::write(&term, text).unwrap(),
        Before::Directory => std::fs::create_dir_all(&term).unwrap(),
    }
    let mut argv: Vec<String> = vec![
        "-url".into(),
        args[0].into(),
        "-path".into(),
        path.display().to_string(),
    ];
    argv.extend(args[1..].iter().map(|s| s.to_string()));
    argv.push(format!("-terminationMessagePath={}", term.display()));
    let mut cmd = Command::new(program);
    cmd.args(&argv).current_dir(side);
    git_env(&mut cmd, &home);
    cmd.env("TEKTON_RESOURCE_NAME", name)
        .env("STEPKIT_TEKTON_DIR", side.join("tekton"))
        .env("STEPKIT_WORKSPACE_DIR", side.join("workspace"));
    let run = run(&mut cmd);
    let root = side.display().to_string();
    let log = run
        .stderr
        .lines()
        .map(|l| blank_volatile(l).replace(&root, "<root>"))
        .collect();
    let termination = std::fs::read_to_string(&term).ok();
    let mut repo = Vec::new();
    if path.join(".git").is_dir() {
        // Upstream as root reads /root/.ssh/known_hosts (git-init: $HOME's); on a machine
        // that has one, upstream sets no core.sshCommand.
        let root_known_hosts =
            testsupport::is_root() && Path::new("/root/.ssh/known_hosts").exists();
        let mut config: Vec<String> = git(&home, &path, &["config", "--local", "--list"])
            .lines()
            .filter(|l| !(root_known_hosts && l.starts_with("core.sshcommand=")))
            .map(str::to_string)
            .collect();
        // libgit2 and git write the same keys in another order.
        config.sort();
        repo.push(("config --local --list".into(), config.join("\n")));
        for inspect in [
            &["for-each-ref"][..],
            &["log", "--decorate", "-1"],
            &["status", "--porcelain"],
            &["rev-parse", "--abbrev-ref", "HEAD"],
            &["submodule", "status", "--recursive"],
            &["ls-files", "-s", "--recurse-submodules"],
        ] {
            let out = git_out(&home, &path, inspect);
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            repo.push((inspect.join(" "), text.replace(&root, "<root>")));
        }
        repo.push(("work tree".into(), tree_files(&path).join("\n")));
    }
    let global_config = std::fs::read_to_string(home.join(".gitconfig"))
        .unwrap_or_default()
        .replace(&root, "<root>");
    Observed {
        code: run.code,
        log,
        termination,
        repo,
        global_config,
    }
}

struct Case {
    name: &'static str,
    /// `-url` value first, then the flags the controller would add.
    args: Vec<String>,
    /// What the termination path holds before the run.
    before: Before,
    /// Checks of git-init's own result beyond equality with upstream's.
    expect_decoration: Option<&'static str>,
}

#[test]
fn v037_flavour_matches_upstream_v037_git_init() {
    if skip_without_daemon() {
        return;
    }
    let Some(upstream) = oracle() else {
        return;
    };
    let ours = Path::new(env!("CARGO_BIN_EXE_git-init"));
    let t = tempfile::tempdir().unwrap();
    let f = build(t.path());
    let d = Daemon::start(&f.srv, &f.home);
    let repo = d.url("repo");
    let closed = format!("git://127.0.0.1:{}/repo", free_port());
    let case = |name, args: &[&str], decoration| Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        before: Before::Nothing,
        expect_decoration: decoration,
    };
    let mut cases = vec![
        case(
            "branch",
            &[&repo, "-revision", "master"],
            Some("grafted, HEAD, origin/master"),
        ),
        case(
            "other-branch",
            &[&repo, "-revision", "feature"],
            Some("grafted, HEAD, origin/feature"),
        ),
        case(
            "annotated-tag",
            &[&repo, "-revision", "v1"],
            Some("grafted, HEAD"),
        ),
        case(
            "lightweight-tag",
            &[&repo, "-revision", "lt"],
            Some("grafted, HEAD"),
        ),
        case(
            "sha",
            &[&repo, "-revision", &f.parent],
            Some("grafted, HEAD"),
        ),
        case(
            "sha-of-a-branch-tip",
            &[&repo, "-revision", &f.feature],
            Some("grafted, HEAD"),
        ),
        case("no-revision", &[&repo], Some("grafted, HEAD")),
        case(
            "full-history",
            &[&repo, "-revision", "master", "-depth", "0"],
            Some("HEAD, origin/master"),
        ),
        case(
            "refspec",
            &[
                &repo,
                "-revision",
                "feature",
                "-refspec",
                "refs/heads/feature:refs/heads/feature",
            ],
            None,
        ),
        case(
            "ssl-verify-off",
            &[&repo, "-revision", "master", "-sslVerify=false"],
            None,
        ),
        case("submodules", &[&d.url("super")], Some("grafted, HEAD")),
        case(
            "submodules-branch",
            &[&d.url("super"), "-revision", "master"],
            Some("grafted, HEAD, origin/master"),
        ),
        case(
            "no-submodules",
            &[&d.url("super"), "-revision", "master", "-submodules=false"],
            None,
        ),
        case(
            "sparse",
            &[
                &repo,
                "-revision",
                "master",
                "-sparseCheckoutDirectories",
                "a,*.md",
            ],
            None,
        ),
        case("missing-revision", &[&repo, "-revision", "nope"], None),
        case("missing-repository", &[&d.url("missing")], None),
        case("unreachable", &[&closed, "-revision", "master"], None),
    ];
    cases.push(Case {
        before: Before::Text(r#"[{"key":"earlier","value":"x"}]"#.into()),
        ..case("appends", &[&repo, "-revision", "master"], None)
    });
    cases.push(Case {
        before: Before::Text(format!(
            r#"[{{"key":"big","value":"{}"}}]"#,
            "x".repeat(3900)
        )),
        ..case("message-too-large", &[&repo, "-revision", "master"], None)
    });
    cases.push(Case {
        before: Before::Directory,
        ..case("unwritable-message", &[&repo, "-revision", "master"], None)
    });
    let mut failures = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let theirs = observe(
            upstream,
            &t.path().join("up").join(c.name),
            c.name,
            &args,
            &c.before,
        );
        let mine = observe(
            ours,
            &t.path().join("ours").join(c.name),
            c.name,
            &args,
            &c.before,
        );
        // A look at what is compared: V037_SHOW=1 cargo test … -- --nocapture.
        if std::env::var_os("V037_SHOW").is_some() {
            eprintln!("{}: {mine:#?}", c.name);
        }
        if theirs != mine {
            failures.push(format!(
                "{}:\nupstream {theirs:#?}\ngit-init {mine:#?}",
                c.name
            ));
            continue;
        }
        if let Some(want) = c.expect_decoration {
            let cloned = mine.log.iter().find(|l| l.contains("Successfully cloned"));
            if !cloned.is_some_and(|l| l.contains(&format!("({want}) in path"))) {
                failures.push(format!("{}: want ({want}) in {cloned:?}", c.name));
            }
        }
    }
    drop(d);
    assert!(
        failures.is_empty(),
        "{} of {} case(s) differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// What a git-init run left: the run, its termination message and the clone.
struct Clone {
    run: Run,
    termination: String,
    path: PathBuf,
}

/// git-init cloning `url` at master into `<root>/workspace/<name>`, with
/// `TEKTON_RESOURCE_NAME=<resource>` if given and `extra` flags.
fn clone_as(root: &Path, name: &str, url: &str, resource: Option<&str>, extra: &[&str]) -> Clone {
    let path = root.join("workspace").join(name);
    let term = root.join(format!("termination-{name}"));
    let mut args = vec![
        format!("-url={url}"),
        format!("-path={}", path.display()),
        "-revision=master".to_string(),
        format!("-terminationMessagePath={}", term.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = resource
        .map(|r| vec![("TEKTON_RESOURCE_NAME", r)])
        .unwrap_or_default();
    let run = git_init_env(root, &a, &env);
    Clone {
        run,
        termination: std::fs::read_to_string(&term).unwrap_or_default(),
        path,
    }
}

#[test]
fn the_flavour_is_told_by_tekton_resource_name_and_catalog_only_flags() {
    if skip_without_daemon() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let f = build(t.path());
    let d = Daemon::start(&f.srv, &f.home);
    let url = d.url("repo");
    let root = t.path().join("runs");
    let tracking = |path: &Path| git(&f.home, path, &["for-each-ref", "refs/remotes"]);

    // The catalog Task's invocation: no TEKTON_RESOURCE_NAME.
    let c = clone_as(&root, "catalog", &url, None, &[]);
    assert_eq!(c.run.code, 0, "{}", c.run.stderr);
    assert!(
        c.run
            .messages()
            .contains(&"Retrying operation (attempt 1)".to_string())
    );
    assert!(c.run.stderr.contains("\"caller\":\"git/git.go:242\""));
    assert!(!c.termination.contains("committer-date"));
    assert!(!c.termination.contains("resourceName"));
    assert_eq!(tracking(&c.path), "");

    // The v0.37.2 controller's: TEKTON_RESOURCE_NAME set, none of the catalog's flags.
    let c = clone_as(&root, "resource", &url, Some("src"), &["-depth", "1"]);
    assert_eq!(c.run.code, 0, "{}", c.run.stderr);
    assert!(!c.run.stderr.contains("Retrying operation"));
    assert!(c.run.stderr.contains("\"caller\":\"git/git.go:178\""));
    assert!(!c.termination.contains("committer-date"));
    assert!(
        c.termination.ends_with(r#""resourceName":"src"}]"#),
        "{}",
        c.termination
    );
    assert!(tracking(&c.path).ends_with("refs/remotes/origin/master"));
    // What a later step can do with it.
    git(&f.home, &c.path, &["checkout", "-q", "origin/master"]);

    // A catalog-only flag wins over the variable (resourceName is still added).
    for (i, flag) in [
        "-retryMaxAttempts=1",
        "-userFriendlyErrors=true",
        "-submodulePaths=",
    ]
    .iter()
    .enumerate()
    {
        let c = clone_as(&root, &format!("flag{i}"), &url, Some("src"), &[flag]);
        assert_eq!(c.run.code, 0, "{flag}: {}", c.run.stderr);
        assert!(c.run.stderr.contains("Retrying operation"), "{flag}");
        assert!(!c.termination.contains("committer-date"), "{flag}");
        assert!(c.termination.contains(r#""resourceName":"src""#), "{flag}");
        assert_eq!(tracking(&c.path), "", "{flag}");
    }
    // An empty name is no name.
    let c = clone_as(&root, "empty", &url, Some(""), &["-sslVerify=true"]);
    assert!(c.run.stderr.contains("Retrying operation"));
}

#[test]
fn v037_flavour_shows_no_url_userinfo() {
    if skip_without_daemon() {
        return;
    }
    // Upstream v0.37.2 logged and reported the URL as given, token included; git-init drops the
    // userinfo everywhere but .git/config (deviation, docs/git-init.md).
    let t = tempfile::tempdir().unwrap();
    let f = build(t.path());
    let d = Daemon::start(&f.srv, &f.home);
    let secret = format!("git://user:s3cr3t-token@127.0.0.1:{}/missing", d.port);
    let root = t.path().join("runs");
    let c = clone_as(&root, "missing", &secret, Some("src"), &[]);
    assert_eq!(c.run.code, 1);
    assert!(!c.run.stderr.contains("s3cr3t"), "{}", c.run.stderr);
    let good = format!("git://user:s3cr3t-token@127.0.0.1:{}/repo", d.port);
    let c = clone_as(&root, "good", &good, Some("src"), &[]);
    assert_eq!(c.run.code, 0, "{}", c.run.stderr);
    assert!(!c.run.stderr.contains("s3cr3t") && !c.termination.contains("s3cr3t"));
    assert_eq!(
        c.termination,
        format!(
            r#"[{{"key":"commit","value":"{}","resourceName":"src"}},{{"key":"url","value":"git://127.0.0.1:{}/repo","resourceName":"src"}}]"#,
            git(&f.home, &c.path, &["rev-parse", "HEAD"]),
            d.port
        )
    );
    let config = git(&f.home, &c.path, &["config", "remote.origin.url"]);
    assert_eq!(config, good);
}
