//! `workingdir-init` on a full or read-only `/workspace` (rows of docs/faults.md): a tmpfs
//! mounted over the workspace in a private mount namespace (root only; otherwise
//! `testsupport::skip`). The init container's exit 1 fails the pod before any step runs.

use std::path::Path;
use std::process::{Output, Stdio};
use testsupport::mounts::{
    SETUP_FAILED, can_fault_mounts, private_namespace_command, read_only_tmpfs, tmpfs,
};

/// Runs `workingdir-init args` in the workspace `ws` after `setup` (sh -e, `$WS` is the
/// workspace) in a private mount namespace; returns its output and what the workspace then
/// holds (`find` listing, sorted).
fn in_namespace(ws: &Path, setup: &str, args: &[&str]) -> (Output, Vec<String>) {
    let listing = ws.with_extension("listing");
    let script = format!(
        "sh -ec \"$FAULT_SETUP\" || exit {SETUP_FAILED}\n\
         cd \"$WS\"\n\
         \"$@\"; rc=$?\n\
         find . -mindepth 1 | sort > \"$FAULT_LISTING\"\n\
         exit $rc\n"
    );
    let out = private_namespace_command(&script)
        .arg(env!("CARGO_BIN_EXE_workingdir-init"))
        .args(args)
        .env("FAULT_SETUP", setup)
        .env("FAULT_LISTING", &listing)
        .env("WS", ws)
        .env("STEPKIT_WORKSPACE_DIR", ws)
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    assert_ne!(
        out.status.code(),
        Some(SETUP_FAILED),
        "could not set up the fault: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = std::fs::read_to_string(&listing)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (out, left)
}

/// The one log line, without Go's `YYYY/MM/DD HH:MM:SS ` prefix.
fn log_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.get(20..).unwrap_or_default().to_string()
}

/// Read-only workspace: the first directory fails, exit 1, nothing created.
#[test]
fn read_only_workspace_fails_on_the_first_directory() {
    if !can_fault_mounts() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    std::fs::create_dir(&ws).unwrap();
    let (out, left) = in_namespace(&ws, &read_only_tmpfs("\"$WS\""), &["first", "second"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        log_line(&out),
        "Failed to mkdir \"first\": mkdir first: read-only file system\n"
    );
    assert!(left.is_empty(), "{left:?}");
}

/// No inodes left after two: `mkdir -p a/b/c` creates `a` and `a/b`, then fails like Go's
/// `MkdirAll` (the parents stay: empty directories, not half-written files); later arguments
/// are not attempted.
#[test]
fn full_workspace_fails_midway_and_leaves_the_parents() {
    if !can_fault_mounts() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    std::fs::create_dir(&ws).unwrap();
    let (out, left) = in_namespace(
        &ws,
        &tmpfs("\"$WS\"", "size=16k,nr_inodes=3"),
        &["a/b/c", "never"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        log_line(&out),
        "Failed to mkdir \"a/b/c\": mkdir a/b/c: no space left on device\n"
    );
    assert_eq!(left, ["./a", "./a/b"]);
}
