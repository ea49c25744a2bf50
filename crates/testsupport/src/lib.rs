//! The one way a stepkit test says it cannot run here.
//!
//! A test that needs a tool (git, sshd, openssl, Go, root, user namespaces…) and does not find
//! it calls [`skip`] and returns. On a developer's machine that prints a `SKIP:` line; under
//! `STEPKIT_REQUIRE_ALL=1` (CI sets it) the same call fails the test, so a missing install step
//! can never turn into a green run that tested nothing.
//!
//! Also here: [`GroupChild`], so a server a test starts dies with everything it forked, and
//! [`with_unprivileged_file_access`], so permission tests mean something when run as root, and
//! [`go_build`], the one way a differential test compiles its Go oracle ([`gooracle`] runs it). [`mounts`] makes full
//! and read-only volumes for fault tests.

pub mod argv;
pub mod gooracle;
pub mod mounts;

use std::fmt::Display;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// Compiles the Go program `src` into `bin` (creating its directory) with the local toolchain
/// only (`GOTOOLCHAIN=local`: a test never downloads one) and the caller's extra `env`. `None`
/// when Go is not installed ([`need_tool`] has reported it); panics with go's stderr when the
/// build fails, since a broken oracle is a defect, not a missing tool.
#[track_caller]
pub fn go_build(src: &Path, bin: &Path, env: &[(&str, &str)]) -> Option<PathBuf> {
    need_tool("go")?;
    if let Some(dir) = bin.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(bin)
        .arg(src)
        .env("GOTOOLCHAIN", "local")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run go build: {e}"));
    assert!(
        out.status.success(),
        "go build of {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin.to_path_buf())
}

/// Upstream's Go program `package` (e.g. `cmd/sidecarlogresults`) of `module` (`path@version`),
/// downloaded to the Go module cache and built once into `dir`, pinned by the module's own
/// `go.sum` (a workspace naming its directory); `None` after [`skip`] without Go or the module.
/// `go_version` is the workspace's `go` line (at least the module's, and 1.18).
pub fn upstream_go_binary(
    module: &str,
    package: &str,
    go_version: &str,
    dir: &Path,
) -> Option<PathBuf> {
    need_tool("go")?;
    let bin = dir.join(package.rsplit('/').next().unwrap_or(package));
    if bin.exists() {
        return Some(bin);
    }
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let out = Command::new("go")
        .args(["mod", "download", "-json", module])
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run go mod download: {e}"));
    let json = String::from_utf8_lossy(&out.stdout);
    let module_dir = json
        .split("\"Dir\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|_| out.status.success());
    let Some(module_dir) = module_dir else {
        skip(format!(
            "cannot download {module}: {json}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
        return None;
    };
    let work = dir.join("go.work");
    std::fs::write(&work, format!("go {go_version}\n\nuse {module_dir}\n"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", work.display()));
    go_build(
        &Path::new(module_dir).join(package),
        &bin,
        &[
            ("GOWORK", work.to_str().unwrap_or_default()),
            ("CGO_ENABLED", "0"),
            ("GOFLAGS", "-buildvcs=false -trimpath"),
        ],
    )
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

/// True when the test runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` with file permissions checked as an unprivileged user even when the test runs as
/// root, so a test of "permission denied" means something in CI (root). As root, `f` runs on a
/// thread of its own whose filesystem uid and gid are 65534: Linux keeps them per thread and
/// drops the DAC-override capabilities from a thread whose fsuid leaves 0. Paths `f` opens must
/// be reachable (searchable directories) by that uid. Not root: `f` runs as is.
pub fn with_unprivileged_file_access<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if !is_root() {
        return f();
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: raw setfsgid/setfsuid change only this thread's credentials (the
                // libc wrappers are single-thread syscalls, unlike setuid); the thread ends
                // right after `f`, so no other code runs with them.
                unsafe {
                    libc::setfsgid(65534);
                    libc::setfsuid(65534);
                }
                assert_eq!(
                    // SAFETY: as above; -1 is invalid, so this only reads the current fsuid.
                    unsafe { libc::setfsuid(u32::MAX) },
                    65534,
                    "setfsuid(65534) did not take effect"
                );
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A server or helper a test started, in a process group of its own: dropping it kills the
/// whole group (the process and everything it forked: `git daemon`'s per-connection
/// children, sshd's sessions…) and reaps the leader, so nothing outlives the test.
pub struct GroupChild {
    child: Child,
}

impl GroupChild {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> io::Result<GroupChild> {
        cmd.process_group(0)
            .spawn()
            .map(|child| GroupChild { child })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The process itself (its pipes, `try_wait`, …).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the group and reaps the leader; what else was in the group is reaped by init.
    pub fn kill(&mut self) {
        if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill has no memory preconditions; the group is ours (setpgid at spawn)
            // and still exists while its leader is unreaped.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Lower-case hex of `bytes`: how the Go oracles and the tests exchange arbitrary bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string written by [`hex`] or a Go oracle (panics on malformed input:
/// the oracle is test code).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from the oracle"))
        .collect()
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

    #[test]
    fn dropping_a_group_child_kills_what_it_forked() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut group = GroupChild::spawn(&mut cmd).unwrap();
        let mut line = String::new();
        io::BufRead::read_line(
            &mut io::BufReader::new(group.child().stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: libc::pid_t = line.trim().parse().unwrap();
        drop(group);
        // The orphaned `sleep` is reparented and reaped by init soon after SIGKILL.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // SAFETY: signal 0 only checks existence.
        while unsafe { libc::kill(grandchild, 0) } == 0 && !is_zombie(grandchild) {
            assert!(
                std::time::Instant::now() < deadline,
                "sleep {grandchild} survived its group"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn is_zombie(pid: libc::pid_t) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn unprivileged_file_access_is_refused_a_mode_000_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Searchable by anyone, so only the file's own mode refuses the read.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        let read = with_unprivileged_file_access(|| std::fs::read(&file).map_err(|e| e.kind()));
        assert_eq!(read, Err(io::ErrorKind::PermissionDenied));
    }
}
