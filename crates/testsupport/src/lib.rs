//! The one way a stepkit test says it cannot run here.
//!
//! A test that needs a tool (git, sshd, openssl, Go, root, user namespaces…) and does not find
//! it calls [`skip`] and returns. On a developer's machine that prints a `SKIP:` line; under
//! `STEPKIT_REQUIRE_ALL=1` (CI sets it) the same call fails the test, so a missing install step
//! can never turn into a green run that tested nothing.

pub mod argv;

use std::fmt::Display;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when every test must really run (`STEPKIT_REQUIRE_ALL=1`).
pub fn require_all() -> bool {
    std::env::var_os("STEPKIT_REQUIRE_ALL").is_some_and(|v| v == "1")
}

/// Reports that the calling test cannot run here: prints `SKIP: <reason>`, or panics under
/// `STEPKIT_REQUIRE_ALL=1`. The caller returns right after.
#[track_caller]
pub fn skip(reason: impl Display) {
    if require_all() {
        panic!("STEPKIT_REQUIRE_ALL=1 but this test cannot run: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

/// The first `name` on `PATH`, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `which(name)`, or [`skip`] with a reason naming the tool.
#[track_caller]
pub fn need_tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        skip(format!("`{name}` is not installed"));
    }
    found
}

/// True when the test runs as root; otherwise [`skip`]s with `why` (what root is needed for).
#[track_caller]
pub fn need_root(why: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !root {
        skip(format!("needs root to {why}"));
    }
    root
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_a_made_up_tool() {
        assert!(which("sh").is_some());
        assert!(which("no-such-tool-stepkit").is_none());
    }
}
