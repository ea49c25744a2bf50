//! Runs the built `workingdir-init` binary in a temporary workspace.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn run(ws: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workingdir-init"))
        .args(args)
        .current_dir(ws)
        .env("STEPKIT_WORKSPACE_DIR", ws)
        .output()
        .unwrap()
}

#[test]
fn creates_relative_and_workspace_dirs_only() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    fs::create_dir(&ws).unwrap();
    let ws_bbb = format!("{}/bbb//c/", ws.display());
    let outside = dir.path().join("ignored");
    let out = run(
        &ws,
        &[
            "zzz",
            "./aaa/x",
            &ws_bbb,
            ws.to_str().unwrap(),
            outside.to_str().unwrap(),
            "zzz",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    for d in ["zzz", "aaa/x", "bbb/c"] {
        let meta = fs::metadata(ws.join(d)).unwrap();
        assert!(meta.is_dir(), "{d}");
        assert_eq!(meta.permissions().mode() & 0o7777 & !0o755, 0);
    }
    assert!(!outside.exists());
}

#[test]
fn no_arguments_is_success() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
}

#[test]
fn escaping_relative_path_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    fs::create_dir(&ws).unwrap();
    let out = run(&ws, &["ok", "../escaped"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with(
            " Refusing to create \"../escaped\": relative working directory escapes the workspace\n"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("escaped").exists());
    assert!(!ws.join("ok").exists());
}

/// Go's `log` prefix `YYYY/MM/DD HH:MM:SS `.
fn strip_log_prefix(line: &str) -> &str {
    let (stamp, rest) = line.split_at(20);
    let b = stamp.as_bytes();
    assert!(
        b[4] == b'/'
            && b[7] == b'/'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b' ',
        "not a Go log line: {line:?}"
    );
    rest
}

#[test]
fn permission_denied_is_reported_like_go() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let ws = dir.path().join("workspace");
    fs::create_dir(&ws).unwrap();
    fs::set_permissions(&ws, fs::Permissions::from_mode(0o777)).unwrap();
    let ro = ws.join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let args = ["first", "ro/foo/bar", "never"];
    let out = if fs::create_dir(ro.join("probe")).is_ok() {
        // Root ignores permissions: run the binary as nobody instead, if possible.
        if testsupport::need_tool("setpriv").is_none() {
            return;
        }
        fs::remove_dir(ro.join("probe")).unwrap();
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_workingdir-init"))
            .args(args)
            .current_dir(&ws)
            .env("STEPKIT_WORKSPACE_DIR", &ws)
            .output()
            .unwrap()
    } else {
        run(&ws, &args)
    };
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        strip_log_prefix(&stderr),
        "Failed to mkdir \"ro/foo/bar\": mkdir ro/foo: permission denied\n"
    );
    assert!(ws.join("first").is_dir());
    assert!(!ws.join("never").exists(), "stops at the first failure");
}

#[test]
fn argv_that_is_not_utf8_is_refused_before_any_mkdir() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    fs::create_dir(&ws).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_workingdir-init"))
        .arg("first")
        .arg(std::ffi::OsStr::from_bytes(b"caf\xc3"))
        .current_dir(&ws)
        .env("STEPKIT_WORKSPACE_DIR", &ws)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "argument 2 is not valid UTF-8: \"caf\\xc3\"\n"
    );
    assert_eq!(fs::read_dir(&ws).unwrap().count(), 0, "nothing created");
}
