//! git-init against `git daemon` on 127.0.0.1, every case compared with the git CLI running
//! upstream's command sequence (same commit, same files, same submodule state, clean status).

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Fixture {
    srv: PathBuf,
    home: PathBuf,
    c1: String,
    c2: String,
    /// `feature`'s (and `dup`'s) tip.
    c3: String,
    pull: String,
}

fn build(root: &Path) -> Fixture {
    let home = make_home(root);
    let srv = root.join("srv");
    let r = srv.join("repo");
    new_repo(&home, &r, "main");
    git(
        &home,
        &r,
        &["config", "uploadpack.allowReachableSHA1InWant", "true"],
    );
    let c1 = commit_files(
        &home,
        &r,
        &[
            ("README.md", "readme\n"),
            ("CONTRIBUTING.md", "contrib\n"),
            ("STYLE.md", "style\n"),
            ("a/x.txt", "x\n"),
            ("b/c/y.txt", "y\n"),
            ("b/d/z.txt", "z\n"),
            ("docs/private/p.txt", "p\n"),
            ("docs/pub.md", "pub\n"),
        ],
        "c1",
    );
    git(&home, &r, &["tag", "-a", "v1", "-m", "v1"]);
    git(&home, &r, &["tag", "dup"]);
    let c2 = commit_files(
        &home,
        &r,
        &[("README.md", "readme 2\n"), ("new.txt", "new\n")],
        "c2",
    );
    git(&home, &r, &["tag", "lt"]);
    git(&home, &r, &["checkout", "-q", "-b", "feature"]);
    let c3 = commit_files(&home, &r, &[("feature.txt", "f\n")], "c3");
    git(&home, &r, &["branch", "dup"]);
    git(&home, &r, &["checkout", "-q", "main"]);
    commit_files(
        &home,
        &r,
        &[("README.md", "readme 4\n"), ("a/x.txt", "x4\n")],
        "c4",
    );
    // A pull-request ref pointing at a commit on no branch.
    let tree = git(&home, &r, &["rev-parse", "HEAD^{tree}"]);
    let pull = git(&home, &r, &["commit-tree", &tree, "-p", "HEAD", "-m", "pr"]);
    git(&home, &r, &["update-ref", "refs/pull/1/head", &pull]);

    // Same history, but the server refuses unadvertised object ids (protocol v0 default).
    let plain = srv.join("plain");
    git(
        &home,
        &srv,
        &[
            "clone",
            "-q",
            "--no-local",
            r.to_str().unwrap(),
            plain.to_str().unwrap(),
        ],
    );

    // leaf <- nested <- super, plus sub.
    let leaf = srv.join("leaf");
    new_repo(&home, &leaf, "main");
    commit_files(&home, &leaf, &[("leaf.txt", "leaf\n")], "leaf");
    let nested = srv.join("nested");
    new_repo(&home, &nested, "main");
    commit_files(&home, &nested, &[("nested.txt", "nested\n")], "nested");
    submodule_add(&home, &nested, "../leaf", "deps/leaf");
    git(&home, &nested, &["commit", "-q", "-m", "add leaf"]);
    let sub = srv.join("sub");
    new_repo(&home, &sub, "main");
    let sub_old = commit_files(&home, &sub, &[("s.txt", "s1\n")], "s1");
    commit_files(&home, &sub, &[("s.txt", "s2\n")], "s2");
    let sup = srv.join("super");
    new_repo(&home, &sup, "main");
    commit_files(&home, &sup, &[("top.txt", "top\n")], "top");
    submodule_add(&home, &sup, "../sub", "sub");
    submodule_add(&home, &sup, "../nested", "libs/nested");
    git(&home, &sup, &["commit", "-q", "-m", "subs"]);
    // A superproject whose submodule commit is not the tip of the submodule's branch.
    let old = srv.join("oldsub");
    new_repo(&home, &old, "main");
    submodule_add(&home, &old, "../sub", "sub");
    git(&home, &old.join("sub"), &["checkout", "-q", &sub_old]);
    git(&home, &old, &["add", "sub"]);
    git(&home, &old, &["commit", "-q", "-m", "old sub"]);
    Fixture {
        srv,
        home,
        c1,
        c2,
        c3,
        pull,
    }
}

#[derive(Default, Clone)]
struct Case {
    name: &'static str,
    repo: &'static str,
    revision: String,
    refspec: &'static str,
    depth: u64,
    submodules: bool,
    submodule_paths: Option<&'static str>,
    sparse: Option<&'static str>,
}

fn case(name: &'static str, repo: &'static str, revision: &str, depth: u64) -> Case {
    Case {
        name,
        repo,
        revision: revision.to_string(),
        depth,
        submodules: true,
        ..Default::default()
    }
}

/// Upstream's command sequence with the git CLI.
fn cli_clone(f: &Fixture, url: &str, c: &Case, dir: &Path) {
    let h = &f.home;
    git(h, Path::new("/"), &["init", "-q", dir.to_str().unwrap()]);
    if let Some(s) = c.sparse {
        git(h, dir, &["config", "core.sparsecheckout", "true"]);
        let text: String = s.split(',').map(|p| format!("{p}\n")).collect();
        write(&dir.join(".git/info/sparse-checkout"), &text);
    }
    git(h, dir, &["remote", "add", "origin", url]);
    let mut fetch = vec!["fetch".to_string()];
    if c.submodules {
        fetch.push("--recurse-submodules=yes".into());
    }
    if c.depth > 0 {
        fetch.push(format!("--depth={}", c.depth));
        git(h, dir, &["config", "--unset", "remote.origin.fetch"]);
    }
    fetch.extend(["origin", "--update-head-ok", "--force"].map(String::from));
    let checkout = if c.refspec.is_empty() {
        fetch.push(c.revision.clone());
        "FETCH_HEAD".to_string()
    } else {
        fetch.extend(c.refspec.split(' ').map(String::from));
        c.revision.clone()
    };
    let fa: Vec<&str> = fetch.iter().map(String::as_str).collect();
    git(h, dir, &fa);
    git(h, dir, &["checkout", "-q", "-f", &checkout]);
    if c.submodules {
        let mut up = vec![
            "submodule".to_string(),
            "update".into(),
            "--recursive".into(),
            "--init".into(),
            "--force".into(),
        ];
        if c.depth > 0 {
            up.push(format!("--depth={}", c.depth));
        }
        if let Some(p) = c.submodule_paths {
            up.extend(p.split(',').map(String::from));
        }
        let ua: Vec<&str> = up.iter().map(String::as_str).collect();
        git(h, dir, &ua);
    }
}

fn run_case(f: &Fixture, d: &Daemon, root: &Path, c: &Case) -> Result<(), String> {
    let url = d.url(c.repo);
    let ours = root.join("ours").join(c.name);
    let cli = root.join("cli").join(c.name);
    let term = root.join("term").join(c.name);
    std::fs::create_dir_all(term.parent().unwrap()).unwrap();
    let mut args = vec![
        format!("-url={url}"),
        format!("-path={}", ours.display()),
        format!("-revision={}", c.revision),
        format!("-refspec={}", c.refspec),
        format!("-depth={}", c.depth),
        format!("-submodules={}", c.submodules),
        format!("-terminationMessagePath={}", term.display()),
    ];
    if let Some(p) = c.submodule_paths {
        args.push(format!("-submodulePaths={p}"));
    }
    if let Some(s) = c.sparse {
        args.push(format!("-sparseCheckoutDirectories={s}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = git_init(root, &a);
    if run.code != 0 {
        return Err(format!("git-init exit {}: {}", run.code, run.stderr));
    }
    cli_clone(f, &url, c, &cli);
    let h = &f.home;
    let check = |what: &str, args: &[&str]| -> Result<(), String> {
        let a = git(h, &ours, args);
        let b = git(h, &cli, args);
        if a != b {
            return Err(format!("{what} differs: ours {a:?} vs git {b:?}"));
        }
        Ok(())
    };
    check("HEAD", &["rev-parse", "HEAD"])?;
    check("branch", &["rev-parse", "--abbrev-ref", "HEAD"])?;
    check("refs", &["for-each-ref"])?;
    check("submodules", &["submodule", "status", "--recursive"])?;
    check("index flags", &["ls-files", "-v", "--recurse-submodules"]).or_else(|e| {
        // --recurse-submodules is refused with sparse checkouts on some git versions.
        if c.sparse.is_some() {
            check("index flags", &["ls-files", "-v"])
        } else {
            Err(e)
        }
    })?;
    if c.depth > 0 {
        check("history depth", &["rev-list", "--count", "HEAD"])?;
    }
    let (fa, fb) = (tree_files(&ours), tree_files(&cli));
    if fa != fb {
        return Err(format!("files differ:\nours {fa:?}\ngit  {fb:?}"));
    }
    let status = git(
        h,
        &ours,
        &["status", "--porcelain", "--ignore-submodules=none"],
    );
    if !status.is_empty() {
        return Err(format!("git status not clean: {status}"));
    }
    let decoration = git(h, &cli, &["show", "-q", "--pretty=format:%D", "HEAD"]);
    let sha = git(h, &cli, &["rev-parse", "HEAD"]);
    let want = format!(
        "Successfully cloned {url} @ {sha} ({decoration}) in path {}",
        ours.display()
    );
    if !run.messages().contains(&want) {
        return Err(format!("missing log line {want:?} in {:?}", run.messages()));
    }
    let msg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    if msg[0]["value"] != sha.as_str() || msg[1]["value"] != url.as_str() {
        return Err(format!("termination message {msg}"));
    }
    Ok(())
}

#[test]
fn clones_match_the_git_cli() {
    if skip_without_daemon() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let f = build(root);
    let d = Daemon::start(&f.srv, &f.home);
    let mut cases = vec![
        case("default-branch", "repo", "", 1),
        case("branch", "repo", "feature", 1),
        case("annotated-tag", "repo", "v1", 1),
        case("lightweight-tag-full", "repo", "lt", 0),
        case("tag-wins-over-branch", "repo", "dup", 1),
        case("full-sha", "repo", &f.c2, 1),
        // Fetched by id: no remote-tracking ref, though branches point at it.
        case("branch-tip-sha-full", "repo", &f.c3, 0),
        case("sha-no-server-support", "plain", &f.c1, 1),
        case("pull-ref", "repo", "refs/pull/1/head", 1),
        case("depth-2", "repo", "main", 2),
        case("full-history", "repo", "", 0),
        case("submodules", "super", "", 1),
        case("submodules-full", "super", "main", 0),
        case("submodules-old-commit", "oldsub", "", 1),
        case("no-submodules", "super", "", 1),
    ];
    cases.push(Case {
        name: "refspec-branch",
        refspec: "refs/heads/feature:refs/heads/feature",
        ..case("", "repo", "feature", 1)
    });
    cases.push(Case {
        name: "refspec-onto-unborn-master",
        refspec: "refs/heads/main:refs/heads/master",
        ..case("", "repo", "master", 1)
    });
    cases.push(Case {
        name: "sha-with-refspec",
        refspec: "refs/heads/main",
        ..case("", "repo", &f.c2, 0)
    });
    cases.push(Case {
        name: "sparse",
        sparse: Some("a,b/c,CONTRIBUTING.md"),
        ..case("", "repo", "main", 1)
    });
    cases.push(Case {
        name: "sparse-negation",
        sparse: Some("/docs/,!/docs/private/,*.txt"),
        ..case("", "repo", "", 1)
    });
    cases.push(Case {
        name: "submodule-paths",
        submodule_paths: Some("sub"),
        ..case("", "super", "", 1)
    });
    for c in cases.iter_mut() {
        if c.name == "no-submodules" {
            c.submodules = false;
        }
    }
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = run_case(&f, &d, root, c) {
            failures.push(format!("{}: {e}", c.name));
        }
    }

    // Failures against the server.
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let run = git_init(
        root,
        &[
            &format!("-url={}", d.url("repo")),
            "-path=bad1",
            "-revision=nope",
            &term,
        ],
    );
    if run.code != 1 || !run.stderr.contains("couldn't find remote ref nope") {
        failures.push(format!("missing revision: {} {}", run.code, run.stderr));
    }
    let bad = "0123456789abcdef0123456789abcdef01234567";
    let run = git_init(
        root,
        &[
            &format!("-url={}", d.url("repo")),
            "-path=bad2",
            &format!("-revision={bad}"),
            &term,
        ],
    );
    if run.code != 1 || !run.stderr.contains("Git Clone Failed") {
        failures.push(format!("bad sha: {} {}", run.code, run.stderr));
    }
    let run = git_init(
        root,
        &[&format!("-url={}", d.url("missing")), "-path=bad3", &term],
    );
    if run.code != 1 {
        failures.push(format!("missing repository: {} {}", run.code, run.stderr));
    }
    let _ = f.pull.len() + f.c1.len();
    drop(d);
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
