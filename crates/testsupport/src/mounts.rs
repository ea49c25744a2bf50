//! Full and read-only volumes for fault tests: a tiny tmpfs mounted over a directory inside a
//! private mount namespace (`unshare --mount`), so nothing leaks onto the host and the mount is
//! gone with the namespace. Needs root; [`can_fault_mounts`] says whether this machine allows
//! it (and reports the skip otherwise).
//!
//! The setup helpers return `sh` lines for a namespace script. `dir` in them is a shell word,
//! already quoted by the caller (a `'…'` path or a reference such as `"$WS"`).

use std::process::{Command, Stdio};

/// Exit status of a namespace script when the fault itself could not be set up.
pub const SETUP_FAILED: i32 = 99;

/// Name prefix of the files that fill a volume; tests leave them out of listings.
pub const FILL: &str = ".fault-fill";

/// True when a tmpfs can be mounted in a private mount namespace here (root, `unshare`, and
/// `unshare --mount` permitted); otherwise [`crate::skip`]s with the reason.
#[track_caller]
pub fn can_fault_mounts() -> bool {
    if !crate::need_root("mount a tmpfs in a private mount namespace")
        || crate::need_tool("unshare").is_none()
    {
        return false;
    }
    let works = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        crate::skip("`unshare --mount` is not permitted here");
    }
    works
}

/// The argv that runs the `sh` script `script` in a private mount namespace:
/// `unshare --mount --propagation private sh -c <script> sh`; words appended after it are the
/// script's `$1`, `$2`, ….
pub fn private_namespace_sh(script: &str) -> Vec<&str> {
    vec![
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]
}

/// [`private_namespace_sh`] as a `Command`, ready for the script's arguments.
pub fn private_namespace_command(script: &str) -> Command {
    let words = private_namespace_sh(script);
    let mut command = Command::new(words[0]);
    command.args(&words[1..]);
    command
}

/// A tmpfs with `options` (`size=16k,nr_inodes=2`…) over `dir`.
pub fn tmpfs(dir: &str, options: &str) -> String {
    format!("mount -t tmpfs -o {options} fault {dir}\n")
}

/// A 16 KiB tmpfs over `dir`, then filled up (checked: 0 KiB available).
pub fn full_tmpfs(dir: &str) -> String {
    format!(
        "{}head -c 1048576 /dev/zero > {dir}/{FILL} 2>/dev/null || true\n\
         test \"$(df -k --output=avail {dir} | tail -n 1 | tr -d ' ')\" = 0\n",
        tmpfs(dir, "size=16k")
    )
}

/// A 16 KiB tmpfs over `dir`, read-only.
pub fn read_only_tmpfs(dir: &str) -> String {
    format!("{}mount -o remount,ro {dir}\n", tmpfs(dir, "size=16k"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_lines_are_the_mounts_the_fault_tests_expect() {
        assert_eq!(
            read_only_tmpfs("\"$WS\""),
            "mount -t tmpfs -o size=16k fault \"$WS\"\nmount -o remount,ro \"$WS\"\n"
        );
        assert_eq!(
            full_tmpfs("'/d'"),
            "mount -t tmpfs -o size=16k fault '/d'\n\
             head -c 1048576 /dev/zero > '/d'/.fault-fill 2>/dev/null || true\n\
             test \"$(df -k --output=avail '/d' | tail -n 1 | tr -d ' ')\" = 0\n"
        );
    }
}
