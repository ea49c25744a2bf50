//! git-init on a full or read-only `/workspace` (rows of docs/faults.md): a tmpfs mounted over
//! the workspace in a private mount namespace (root only; otherwise `testsupport::skip`).
//! What the controller sees is the container's exit 1 and no termination message; what must not
//! happen is a stray temporary pack left behind or anything written outside `-path`.

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;
use testsupport::mounts::{SETUP_FAILED, can_fault_mounts, private_namespace_command};

/// [`can_fault_mounts`], and git to clone with.
fn can_fault_mounts_and_git() -> bool {
    can_fault_mounts() && testsupport::need_tool("git").is_some()
}

/// Clones `src` into `<workspace>/out` with a `mount_options` tmpfs over the workspace, in a
/// private mount namespace; returns the run and the workspace's `find` listing afterwards.
fn clone_onto_tmpfs(root: &Path, src: &Path, mount_options: &str) -> (Run, Vec<String>) {
    let ws = root.join("workspace");
    std::fs::create_dir_all(&ws).unwrap();
    let listing = root.join("listing");
    let out = ws.join("out");
    let cmd = git_init_command(
        root,
        &[
            &format!("-url={}", src.display()),
            &format!("-path={}", out.display()),
            &format!(
                "-terminationMessagePath={}",
                root.join("termination").display()
            ),
        ],
    );
    let script = format!(
        "mount -t tmpfs -o {mount_options} fault \"$WS\" || exit {SETUP_FAILED}\n\
         \"$@\"; rc=$?\n\
         (cd \"$WS\" && find . -mindepth 1 | sort) > \"$LISTING\"\n\
         exit $rc\n"
    );
    let mut wrapped = private_namespace_command(&script);
    wrapped.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped
        .current_dir(root)
        .env("WS", &ws)
        .env("LISTING", &listing)
        .stdin(Stdio::null());
    let r = run(&mut wrapped);
    assert_ne!(
        r.code, SETUP_FAILED,
        "could not set up the fault: {}",
        r.stderr
    );
    let left = std::fs::read_to_string(&listing)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (r, left)
}

fn source_repo(root: &Path) -> std::path::PathBuf {
    let home = make_home(root);
    let src = root.join("src");
    // Content that even compressed exceeds the 64 KiB volume.
    let big: String = (0..40_000u32)
        .map(|i| format!("{:08x}", i.wrapping_mul(2_654_435_761)))
        .collect();
    std::fs::create_dir_all(&src).unwrap();
    git(&home, &src, &["init", "-q", "-b", "main"]);
    write(&src.join("big"), &big);
    git(&home, &src, &["add", "."]);
    git(&home, &src, &["commit", "-q", "-m", "one"]);
    src
}

/// Workspace fills up during the fetch: exit 1, one "Error fetching git repository" naming
/// ENOSPC, no termination message; the temporary pack is removed, nothing outside `-path`.
#[test]
fn full_workspace_fails_the_clone_without_a_stray_pack() {
    if !can_fault_mounts_and_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let src = source_repo(root);
    let (r, left) = clone_onto_tmpfs(root, &src, "size=64k");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let failures: Vec<String> = r
        .messages()
        .into_iter()
        .filter(|m| m.starts_with("Error fetching git repository:"))
        .collect();
    assert_eq!(failures.len(), 1, "{}", r.stderr);
    assert!(
        failures[0].contains("No space left on device"),
        "{}",
        failures[0]
    );
    assert!(!root.join("termination").exists());
    assert!(
        left.iter().all(|p| p == "./out" || p.starts_with("./out/")),
        "{left:?}"
    );
    let packs: Vec<&String> = left
        .iter()
        .filter(|p| p.starts_with("./out/.git/objects/pack/"))
        .collect();
    assert!(packs.is_empty(), "stray pack files: {packs:?}");
}

/// Read-only workspace: `git init` of `-path` fails, exit 1, nothing created.
#[test]
fn read_only_workspace_fails_before_anything_is_written() {
    if !can_fault_mounts_and_git() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let src = source_repo(root);
    let (r, left) = clone_onto_tmpfs(root, &src, "size=64k,ro");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let out = root.join("workspace/out");
    assert!(
        r.messages().contains(&format!(
            "Error fetching git repository: exit status 128: fatal: cannot mkdir {}: Read-only file system",
            out.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!root.join("termination").exists());
    assert!(left.is_empty(), "{left:?}");
}
