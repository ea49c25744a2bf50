//! git-init against local repositories and bad inputs (no server needed).

mod common;

use common::*;
use std::path::Path;

/// A repository with two commits on `main`.
fn simple_repo(root: &Path) -> (std::path::PathBuf, String) {
    let home = make_home(root);
    let r = root.join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&home, &r, &["init", "-q", "-b", "main"]);
    write(&r.join("README.md"), "one\n");
    git(&home, &r, &["add", "."]);
    git(&home, &r, &["commit", "-q", "-m", "one"]);
    write(&r.join("a/file.txt"), "two\n");
    write(&r.join("b/c/deep.txt"), "three\n");
    git(&home, &r, &["add", "."]);
    git(&home, &r, &["commit", "-q", "-m", "two"]);
    let head = git(&home, &r, &["rev-parse", "HEAD"]);
    (r, head)
}

#[test]
fn local_clone_with_depth_is_shallow_and_has_no_fetch_refspec() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, head) = simple_repo(root);
    let out = root.join("out");
    let term = root.join("termination");
    let run = git_init(
        root,
        &[
            &format!("-url={}", src.display()),
            &format!("-path={}", out.display()),
            &format!("-terminationMessagePath={}", term.display()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let home = root.join("home");
    assert_eq!(git(&home, &out, &["rev-parse", "HEAD"]), head);
    let shallow = std::fs::read_to_string(out.join(".git/shallow")).unwrap();
    assert_eq!(shallow.lines().count(), 1);
    assert!(
        !git_out(&home, &out, &["config", "--get", "remote.origin.fetch"])
            .status
            .success()
    );
    assert_eq!(git(&home, &out, &["status", "--porcelain"]), "");
    assert_eq!(git(&home, &out, &["rev-list", "--count", "HEAD"]), "1");
    let msgs = run.messages();
    assert_eq!(msgs[0], "Retrying operation (attempt 1)");
    assert!(
        msgs[1].starts_with(&format!(
            "Successfully cloned {} @ {head} (grafted, HEAD) in path {}",
            src.display(),
            out.display()
        )),
        "{msgs:?}"
    );
    assert_eq!(msgs[2], "Retrying operation (attempt 1)");
    assert!(msgs[3].contains("Successfully initialized and updated submodules in path"));
    let lines = run.json_lines();
    assert_eq!(lines[1]["caller"], "git/git.go:242");
    let keys: Vec<&str> = run
        .stderr
        .lines()
        .next()
        .unwrap()
        .split("\":")
        .map(|k| k.rsplit('"').next().unwrap())
        .collect();
    assert_eq!(&keys[..4], &["level", "ts", "caller", "msg"]);
    let msg = std::fs::read_to_string(&term).unwrap();
    let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(v[0]["key"], "commit");
    assert_eq!(v[0]["value"], head.as_str());
    assert_eq!(v[1]["key"], "url");
    assert_eq!(v[1]["value"], src.display().to_string());
    // As the catalog git-init: committer-date is a result file, not a termination entry.
    assert_eq!(v.as_array().unwrap().len(), 2, "{msg}");
    // safe.directory went to the (test) global config.
    let global = std::fs::read_to_string(home.join(".gitconfig")).unwrap();
    assert!(global.contains(&out.display().to_string()));
}

#[test]
fn full_clone_reuse_and_results_dir() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, head) = simple_repo(root);
    let home = root.join("home");
    let first = git(&home, &src, &["rev-parse", "HEAD~1"]);
    std::fs::create_dir_all(root.join("tekton/results")).unwrap();
    let out = root.join("out");
    let base = [
        format!("-url={}", src.display()),
        format!("-path={}", out.display()),
        format!("-terminationMessagePath={}", root.join("t").display()),
        "-depth=0".to_string(),
    ];
    let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
    a.push("-revision=main");
    let run = git_init(root, &a);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &out, &["rev-parse", "HEAD"]), head);
    assert!(
        run.messages()[1].contains("(HEAD, origin/main)"),
        "{:?}",
        run.messages()
    );
    assert_eq!(git(&home, &out, &["rev-list", "--count", "HEAD"]), "2");
    let results = root.join("tekton/results");
    assert_eq!(
        std::fs::read_to_string(results.join("commit")).unwrap(),
        head
    );
    assert_eq!(
        std::fs::read_to_string(results.join("url")).unwrap(),
        src.display().to_string()
    );
    assert_eq!(
        std::fs::read_to_string(results.join("committer-date")).unwrap(),
        "1704164645"
    );
    // Second run into the same directory, an older revision, with an untracked file around.
    write(&out.join("untracked.txt"), "keep me\n");
    let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
    let rev = format!("-revision={first}");
    a.push(&rev);
    let run = git_init(root, &a);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &out, &["rev-parse", "HEAD"]), first);
    assert!(!out.join("a/file.txt").exists());
    assert!(out.join("untracked.txt").exists());
    assert_eq!(
        git(&home, &out, &["status", "--porcelain"]),
        "?? untracked.txt"
    );
    // The termination message was appended to.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("t")).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
}

#[test]
fn sparse_checkout_matches_git() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, _) = simple_repo(root);
    let home = root.join("home");
    let out = root.join("out");
    let run = git_init(
        root,
        &[
            &format!("-url={}", src.display()),
            &format!("-path={}", out.display()),
            "-sparseCheckoutDirectories=a,b/c",
            &format!("-terminationMessagePath={}", root.join("t").display()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = std::fs::read_to_string(out.join(".git/info/sparse-checkout")).unwrap();
    assert_eq!(lines.lines().collect::<Vec<_>>(), vec!["a", "b/c"]);
    assert_eq!(tree_files(&out), vec!["a/file.txt:4", "b/c/deep.txt:6"]);
    assert_eq!(git(&home, &out, &["config", "core.sparsecheckout"]), "true");
    assert_eq!(git(&home, &out, &["status", "--porcelain"]), "");
    let flags = git(&home, &out, &["ls-files", "-v"]);
    assert_eq!(flags, "S README.md\nH a/file.txt\nH b/c/deep.txt");
    // The git CLI agrees after a re-read of the index and patterns.
    git(&home, &out, &["read-tree", "-mu", "HEAD"]);
    assert_eq!(tree_files(&out), vec!["a/file.txt:4", "b/c/deep.txt:6"]);
}

#[test]
fn local_submodules_need_protocol_file_allow() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    let sub = root.join("sub");
    one_commit_repo(&home, &sub, "s.txt", "sub\n");
    let sup = root.join("super");
    new_repo(&home, &sup, "main");
    submodule_add(&home, &sup, sub.to_str().unwrap(), "test_submod");
    git(&home, &sup, &["commit", "-q", "-m", "add sub"]);
    let out = root.join("out");
    let args = [
        format!("-url={}", sup.display()),
        format!("-path={}", out.display()),
        format!("-terminationMessagePath={}", root.join("t").display()),
    ];
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = git_init(root, &a);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("transport 'file' not allowed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("The git file:// protocol is blocked"));
    git(
        &home,
        root,
        &["config", "--global", "protocol.file.allow", "always"],
    );
    let mut a2 = a.clone();
    a2.push("-submodulePaths=test_submod");
    let run = git_init(root, &a2);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.messages()[3].contains("Successfully initialized and updated submodules"));
    assert_eq!(
        std::fs::read_to_string(out.join("test_submod/s.txt")).unwrap(),
        "sub\n"
    );
    assert!(
        std::fs::read_dir(out.join(".git/modules"))
            .unwrap()
            .next()
            .is_some()
    );
    assert_eq!(git(&home, &out, &["status", "--porcelain"]), "");
    let st = git(&home, &out, &["submodule", "status", "--recursive"]);
    assert!(st.starts_with(' '), "{st}");
}

#[test]
fn flag_errors_exit_2_and_help_exits_0() {
    let t = tempfile::tempdir().unwrap();
    let run = git_init(t.path(), &["-depth="]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("invalid value \"\" for flag -depth: parse error\nUsage of ")
    );
    let run = git_init(t.path(), &["-nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("flag provided but not defined: -nope\n")
    );
    let run = git_init(t.path(), &["-sslVerify="]);
    assert_eq!(run.code, 2);
    let run = git_init(t.path(), &["-h"]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("-retryMaxAttempts int"));
    assert!(run.stderr.contains("(default \"/") && run.stderr.contains("termination\")"));
}

fn assert_one_clean_failure(run: &Run, needle: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = run.json_lines();
    let last = lines
        .iter()
        .rev()
        .find(|l| l["level"] == "error" || l["level"] == "fatal")
        .expect("an error line");
    let msg = last["msg"].as_str().unwrap();
    assert!(msg.starts_with("Error fetching git repository: "), "{msg}");
    assert!(
        run.stderr.contains(needle),
        "{needle} not in {}",
        run.stderr
    );
    assert!(last.get("stacktrace").is_some());
}

#[test]
fn bad_inputs_fail_with_one_clear_error() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, _) = simple_repo(root);
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let url = format!("-url={}", src.display());

    let port = free_port();
    let run = git_init(
        root,
        &[
            &format!("-url=git://127.0.0.1:{port}/x"),
            "-path=out1",
            &term,
        ],
    );
    assert_one_clean_failure(&run, "refused the connection");

    let run = git_init(
        root,
        &[
            "-url=https://nonexistent.invalid/x.git",
            "-path=out2",
            &term,
        ],
    );
    assert_one_clean_failure(&run, "Could not resolve host: nonexistent.invalid");

    let run = git_init(root, &[&url, "-path=out3", "-revision=nope", &term]);
    assert_one_clean_failure(&run, "couldn't find remote ref nope");
    assert!(
        run.stderr
            .contains("The revision, branch, or tag was not found on the remote.")
    );
    assert!(run.messages().iter().any(|m| m.starts_with("Error running git [fetch --recurse-submodules=yes --depth=1 origin --update-head-ok --force nope]: exit status 128\nfatal: couldn't find remote ref nope")));

    let run = git_init(
        root,
        &[
            &url,
            "-path=out4",
            "-revision=0123456789012345678901234567890123456789",
            "-userFriendlyErrors=false",
            &term,
        ],
    );
    assert_eq!(run.code, 1);
    let last = run.json_lines().pop().unwrap();
    assert_eq!(last["level"], "fatal");
    assert_eq!(last["caller"], "git-init/main.go:85");
    assert!(!run.stderr.contains("Git Clone Failed"));

    write(&root.join("afile"), "x");
    let run = git_init(root, &[&url, "-path=afile/sub", &term]);
    assert_one_clean_failure(&run, "cannot mkdir afile/sub: Not a directory");

    let run = git_init(root, &[&url, "-path=../escape", &term]);
    assert_one_clean_failure(&run, "must stay inside the working directory");
    assert!(!root.parent().unwrap().join("escape").exists());

    let run = git_init(
        root,
        &[
            &url,
            "-path=out5",
            "-revision=--upload-pack=touch /tmp/x",
            &term,
        ],
    );
    assert_one_clean_failure(&run, "must not start with '-'");

    let run = git_init(
        root,
        &[
            &url,
            "-path=out6",
            "-refspec=main -x",
            "-revision=main",
            &term,
        ],
    );
    assert_one_clean_failure(&run, "no element may start with '-'");

    // Empty revision with a refspec: upstream's validation failure.
    let run = git_init(
        root,
        &[
            &url,
            "-path=out7",
            "-refspec=refs/heads/main:refs/heads/main",
            &term,
        ],
    );
    assert_one_clean_failure(
        &run,
        "error parsing  after fetching refspec refs/heads/main:refs/heads/main",
    );
}

#[test]
fn relative_path_works() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, head) = simple_repo(root);
    let run = git_init(
        root,
        &[
            &format!("-url={}", src.display()),
            "-path=rel/out",
            &format!("-terminationMessagePath={}", root.join("t").display()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        git(
            &root.join("home"),
            &root.join("rel/out"),
            &["rev-parse", "HEAD"]
        ),
        head
    );
}

/// uid 65532 without a passwd entry, cloning into a directory owned by root (world-writable),
/// from a repository owned by root: no "dubious ownership" failure. Needs root and setpriv.
#[test]
fn works_as_uid_65532_without_passwd_entry() {
    if skip_without_git() {
        return;
    }
    if !testsupport::need_root("switch to uid 65532") {
        return;
    }
    let Some(setpriv) = testsupport::need_tool("setpriv") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (src, head) = simple_repo(root);
    use std::os::unix::fs::PermissionsExt;
    for d in [root.to_path_buf(), root.join("ws"), root.join("home2")] {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for with_home in [true, false] {
        let out = root.join("ws").join(if with_home { "a" } else { "b" });
        let mut cmd = std::process::Command::new(&setpriv);
        cmd.args([
            "--reuid=65532",
            "--regid=65532",
            "--clear-groups",
            env!("CARGO_BIN_EXE_git-init"),
        ])
        .arg(format!("-url={}", src.display()))
        .arg(format!("-path={}", out.display()))
        .arg(format!(
            "-terminationMessagePath={}",
            root.join("ws/term").display()
        ))
        .current_dir(root)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("STEPKIT_TEKTON_DIR", root.join("tekton"));
        if with_home {
            cmd.env("HOME", root.join("home2"));
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "HOME set: {with_home}: {stderr}");
        let home = root.join("home");
        let got = git(
            &home,
            root,
            &[
                "-c",
                "safe.directory=*",
                "-C",
                out.to_str().unwrap(),
                "rev-parse",
                "HEAD",
            ],
        );
        assert_eq!(got, head);
    }
}

/// Upstream's TestFetch shapes: one empty commit on `main`, depth 1 and depth 0.
#[test]
fn single_commit_repo_like_upstream_tests() {
    if skip_without_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    git(&home, &src, &["init", "-q", "-b", "main"]);
    git(
        &home,
        &src,
        &["commit", "-q", "--allow-empty", "-m", "empty"],
    );
    let head = git(&home, &src, &["rev-parse", "HEAD"]);
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let run = git_init(
        root,
        &[&format!("-url={}", src.display()), "-path=shallow", &term],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shallow = std::fs::read_to_string(root.join("shallow/.git/shallow")).unwrap();
    assert_eq!(shallow, format!("{head}\n"));
    assert!(run.messages()[1].contains(&format!("@ {head} (grafted, HEAD) in path shallow")));
    let run = git_init(
        root,
        &[
            &format!("-url={}", src.display()),
            "-path=full",
            "-depth=0",
            "-submodules=false",
            &term,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msgs = run.messages();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    // Fetching HEAD updates no remote-tracking ref (same as the git CLI).
    assert!(
        msgs[1].contains(&format!("@ {head} (HEAD) in path full")),
        "{msgs:?}"
    );
    assert!(!root.join("full/.git/shallow").exists());
}
