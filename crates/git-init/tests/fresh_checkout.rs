//! The streamed checkout of a fresh clone against the git CLI: same files, modes and index.

mod common;

use common::*;
use git_init::fresh_checkout::{self, Plan};
use git2::Repository;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A commit with names whose tree order differs from naive sorting, an executable, a
/// symlink, a nested directory and a submodule gitlink.
fn tricky_repo(home: &Path, root: &Path) -> (PathBuf, String) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    git(home, &src, &["init", "-q", "-b", "main"]);
    for name in [
        "a-b",
        "a.c",
        "a/x",
        "a/y/z",
        "a0",
        "b",
        ".github/w.yml",
        ".gitignore",
    ] {
        write(&src.join(name), &format!("# {name}\n"));
    }
    write(&src.join("run.sh"), "#!/bin/sh\n");
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a/x", src.join("link")).unwrap();
    git(home, &src, &["add", "."]);
    let sub_commit = "1111111111111111111111111111111111111111";
    git(
        home,
        &src,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{sub_commit},vendor/lib"),
        ],
    );
    git(home, &src, &["commit", "-q", "-m", "tricky"]);
    let head = git(home, &src, &["rev-parse", "HEAD"]);
    (src, head)
}

/// A temporary root with a git home and [`tricky_repo`] in it: (root, home, src, HEAD).
fn tricky_fixture() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let root = tempfile::tempdir().unwrap();
    let home = make_home(root.path());
    let (src, head) = tricky_repo(&home, root.path());
    (root, home, src, head)
}

/// `git init` + fetch of `src`'s HEAD into `dst`, nothing checked out.
fn fetched(home: &Path, src: &Path, dst: &Path) -> Repository {
    std::fs::create_dir_all(dst).unwrap();
    git(home, dst, &["init", "-q"]);
    git(home, dst, &["fetch", "-q", src.to_str().unwrap(), "HEAD"]);
    Repository::open(dst).unwrap()
}

fn checkout_streamed(repo: &Repository, head: &str) {
    let oid = git2::Oid::from_str(head).unwrap();
    let tree = repo.find_commit(oid).unwrap().tree().unwrap();
    let Plan::Stream(entries) = fresh_checkout::plan(repo, &tree) else {
        panic!("a plain fresh checkout must be streamed");
    };
    fresh_checkout::write(repo, &tree, entries).unwrap();
    repo.set_head_detached(oid).unwrap();
}

#[test]
fn streamed_checkout_matches_git_checkout() {
    if skip_without_git() {
        return;
    }
    let (root, home, src, head) = tricky_fixture();

    let ours = root.path().join("ours");
    let repo = fetched(&home, &src, &ours);
    checkout_streamed(&repo, &head);

    let theirs = root.path().join("theirs");
    fetched(&home, &src, &theirs);
    git(&home, &theirs, &["checkout", "-q", "-f", &head]);

    // Same index entries (mode, object, stage, path), same files, nothing to report.
    assert_eq!(
        git(&home, &ours, &["ls-files", "-s"]),
        git(&home, &theirs, &["ls-files", "-s"])
    );
    assert_eq!(tree_files(&ours), tree_files(&theirs));
    assert_eq!(git(&home, &ours, &["status", "--porcelain"]), "");
    assert_eq!(git(&home, &ours, &["diff-index", "--cached", "HEAD"]), "");
    // Stat data is what git would have recorded: nothing looks modified to a stat-only check.
    assert_eq!(git(&home, &ours, &["diff-files", "--name-only"]), "");

    let mode = |dir: &Path, p: &str| {
        std::fs::symlink_metadata(dir.join(p))
            .unwrap()
            .permissions()
            .mode()
    };
    for p in ["run.sh", "b", "a/y/z", "a/y", "vendor/lib"] {
        assert_eq!(mode(&ours, p), mode(&theirs, p), "{p}");
    }
    assert_ne!(mode(&ours, "run.sh") & 0o111, 0);
    assert_eq!(
        std::fs::read_link(ours.join("link")).unwrap(),
        Path::new("a/x")
    );
    assert!(ours.join("vendor/lib").is_dir());
    assert_eq!(
        std::fs::read_dir(ours.join("vendor/lib")).unwrap().count(),
        0
    );
}

#[test]
fn anything_but_a_plain_fresh_checkout_is_left_to_libgit2() {
    if skip_without_git() {
        return;
    }
    let (root, home, src, head) = tricky_fixture();
    let oid = git2::Oid::from_str(&head).unwrap();
    let plan_for = |dst: &Path| {
        let repo = Repository::open(dst).unwrap();
        let tree = repo.find_commit(oid).unwrap().tree().unwrap();
        fresh_checkout::plan(&repo, &tree)
    };

    let untracked = root.path().join("untracked");
    fetched(&home, &src, &untracked);
    write(&untracked.join("notes.txt"), "mine\n");
    assert_eq!(plan_for(&untracked), Plan::Libgit2);

    let checked_out = root.path().join("checked-out");
    fetched(&home, &src, &checked_out);
    git(&home, &checked_out, &["checkout", "-q", "-f", &head]);
    assert_eq!(plan_for(&checked_out), Plan::Libgit2);

    for (key, value) in [
        ("core.autocrlf", "true"),
        ("core.eol", "crlf"),
        ("core.sparseCheckout", "true"),
    ] {
        let dst = root.path().join(key);
        fetched(&home, &src, &dst);
        git(&home, &dst, &["config", key, value]);
        assert_eq!(plan_for(&dst), Plan::Libgit2, "{key}");
    }

    // Attributes can ask for filters: libgit2 applies them.
    write(&src.join(".gitattributes"), "*.txt text eol=crlf\n");
    git(&home, &src, &["add", "."]);
    git(&home, &src, &["commit", "-q", "-m", "attributes"]);
    let with_attributes = git(&home, &src, &["rev-parse", "HEAD"]);
    let dst = root.path().join("attributes");
    let repo = fetched(&home, &src, &dst);
    let tree = repo
        .find_commit(git2::Oid::from_str(&with_attributes).unwrap())
        .unwrap()
        .tree()
        .unwrap();
    assert_eq!(fresh_checkout::plan(&repo, &tree), Plan::Libgit2);

    let plain = root.path().join("plain");
    fetched(&home, &src, &plain);
    assert_eq!(plan_for(&plain), Plan::Stream(11));
}
