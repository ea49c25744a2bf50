//! Running the step's command (docs/contract.md §3.8).
//!
//! The child gets its own process group, stdin `/dev/null`, the explicit environment, and
//! either the entrypoint's stdout/stderr or pipes that are teed to the console and to
//! `-stdout_path`/`-stderr_path` by the copier threads of [`crate::tee`]. One poll loop then
//! handles, until the child has exited: signals (forwarded to the child's group, SIGCHLD reaps
//! every exited descendant), the cancellation file (`watch`: inotify, dnotify or polling) and
//! the timeout; no write to the console happens in it, so a console nobody reads cannot delay
//! any of them.
//!
//! Deviations from upstream (all documented in docs/entrypoint.md): on timeout or cancel the
//! whole group gets SIGTERM, then SIGKILL after [`KILL_GRACE`] (upstream SIGKILLs only the
//! direct child), and the outcome is reported as timeout/cancel however the child then exits;
//! after the direct child exits, the tee pipes are drained until EOF but at most until they
//! have been idle for [`TEE_IDLE_AFTER_EXIT`] or [`TEE_DRAIN_MAX`] has passed, so background
//! processes holding the pipes cannot hang the step (upstream waits for them forever).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use gocompat::fs as gofs;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, FcntlArg, OFlag, fcntl};
use nix::unistd::{AccessFlags, Pid, faccessat, pipe2, read, setpgid, write};

use crate::pid1::{self, ChildStatus, Signals};
use crate::substitute::Env;
use crate::sys;
use crate::tee;
use crate::watch::{self, Watcher};

/// Time between SIGTERM and SIGKILL when a step is timed out or cancelled.
pub const KILL_GRACE: Duration = Duration::from_secs(1);
/// After the direct child exited, stop draining tee pipes once they were idle this long.
pub const TEE_IDLE_AFTER_EXIT: Duration = Duration::from_millis(100);
/// After the direct child exited, never drain tee pipes longer than this.
pub const TEE_DRAIN_MAX: Duration = Duration::from_secs(2);
/// Child-exit polling period when no signalfd is available (unit tests).
const NO_SIGNALFD_POLL: Duration = Duration::from_millis(10);
/// The uid/gid map of a hermetic child: everything, identity.
const HERMETIC_ID_MAP: &str = "0 0 4294967295\n";

/// Why [`run_command`] did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The timeout expired (Go: `context deadline exceeded`).
    DeadlineExceeded,
    /// The cancellation file got content (Go: `context canceled`).
    Cancelled,
    /// The child exited non-zero or was killed by a signal.
    Exit(ChildStatus),
    /// Resolution, tee-file or start failure (Go's error text).
    Other(String),
}

/// Everything [`run_command`] needs besides the command.
pub struct RunOptions<'a> {
    pub stdout_path: &'a str,
    pub stderr_path: &'a str,
    /// New user+pid+net+mount namespaces (`TEKTON_HERMETIC=1`).
    pub hermetic: bool,
    pub deadline: Option<Instant>,
    pub cancel_file: &'a Path,
    /// `None` only in unit tests: then only the direct child is reaped, by polling.
    pub signals: Option<&'a Signals>,
}

/// The value of `key` in `env` (the last one, like Go's `exec.Cmd`).
fn env_value<'a>(env: &'a Env, key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether the environment asks for a network-less child (upstream's rule).
pub fn hermetic_requested(env: &Env) -> bool {
    env_value(env, "TEKTON_RESOURCE_NAME")
        .unwrap_or("")
        .is_empty()
        && env_value(env, "TEKTON_HERMETIC") == Some("1")
}

/// Go's `exec.LookPath` as used by `exec.Command`: names with a `/` are used as is.
pub fn look_path(name: &str, env: &Env) -> Result<String, String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    let path_var = env_value(env, "PATH").unwrap_or("");
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = gofs::join(&[dir, name]);
        if is_executable(&candidate) {
            if !candidate.starts_with('/') {
                return Err(format!(
                    "exec: {}: cannot run executable found relative to current directory",
                    goflag::go_quote(name)
                ));
            }
            return Ok(candidate);
        }
    }
    Err(format!(
        "exec: {}: executable file not found in $PATH",
        goflag::go_quote(name)
    ))
}

fn is_executable(path: &str) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.is_dir() || meta.mode() & 0o111 == 0 {
        return false;
    }
    match faccessat(AT_FDCWD, path, AccessFlags::X_OK, AtFlags::AT_EACCESS) {
        Ok(()) => true,
        Err(e) => matches!(e, Errno::ENOSYS | Errno::EPERM),
    }
}

/// Opens a tee file like upstream's `newStdLogWriter`.
fn open_tee_file(path: &str) -> Result<File, String> {
    let parent = match path.contains('/') {
        true => gofs::join(&[path, ".."]),
        false => ".".to_string(),
    };
    gofs::mkdir_all(&parent, 0o777).map_err(|e| format!("error creating parent directory: {e}"))?;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| {
            format!(
                "error opening {path}: {}",
                gofs::path_error("open", path, &e)
            )
        })
}

/// Runs `command` (non-empty) to completion.
pub fn run_command(command: &[String], env: &Env, opts: &RunOptions<'_>) -> Result<(), RunError> {
    let Some(name) = command.first() else {
        return Ok(());
    };
    let mut tee_files = [None, None];
    for (slot, path) in [opts.stdout_path, opts.stderr_path].iter().enumerate() {
        if !path.is_empty() {
            tee_files[slot] = Some((open_tee_file(path).map_err(RunError::Other)?, *path));
        }
    }
    let path = look_path(name, env).map_err(RunError::Other)?;

    let now = Instant::now();
    if opts.deadline.is_some_and(|d| now >= d) {
        return Err(RunError::DeadlineExceeded);
    }
    if cancel_requested(opts.cancel_file) {
        return Err(RunError::Cancelled);
    }
    if let Some(s) = opts.signals {
        // A termination request that arrived after the wait phase still ends us here, before
        // anything is started (Go had no handler installed yet at that point).
        s.handle_while_idle();
    }

    let mut pipes = [None, None];
    let mut streams = Vec::new();
    for (slot, file) in tee_files.into_iter().enumerate() {
        if let Some((file, path)) = file {
            let (r, w) = pipe().map_err(RunError::Other)?;
            set_nonblocking(&r);
            pipes[slot] = Some(w);
            streams.push(tee::Stream {
                pipe: r,
                console: if slot == 0 { 1 } else { 2 },
                file,
                path: path.to_string(),
            });
        }
    }
    // Copier threads start before the fork (whose child only runs the prepared exec); if
    // the spawn fails, dropping the write ends gives them EOF.
    let tee = if streams.is_empty() {
        None
    } else {
        Some(tee::Tee::start(streams).map_err(RunError::Other)?)
    };
    let child = spawn(&path, command, env, &pipes, opts.hermetic).map_err(RunError::Other)?;
    drop(pipes);
    supervise(child, tee, opts)
}

fn cancel_requested(cancel_file: &Path) -> bool {
    std::fs::metadata(cancel_file).is_ok_and(|m| m.len() > 0)
}

/// Why the supervisor stops the child before it exits by itself.
#[derive(Clone, Copy)]
enum StopReason {
    Deadline,
    Cancel,
}

/// The supervisor's request to stop: `None → Terminating → Killing`, never back.
#[derive(Clone, Copy)]
enum Stop {
    None,
    /// Timeout or cancel: the group got SIGTERM at `since`; SIGKILL after [`KILL_GRACE`].
    Terminating {
        reason: StopReason,
        since: Instant,
    },
    /// The group got SIGKILL too.
    Killing {
        reason: StopReason,
    },
}

/// The direct child: `Running → Exited` once reaped; then the tee pipes drain.
#[derive(Clone, Copy)]
enum Child {
    Running,
    Exited { status: ChildStatus, at: Instant },
}

/// The child's group and the child itself (it may not have joined its group yet).
fn signal_child(pid: i32, sig: i32) {
    pid1::signal_group(pid, sig);
    pid1::signal_process(pid, sig);
}

fn supervise(pid: i32, tee: Option<tee::Tee>, opts: &RunOptions<'_>) -> Result<(), RunError> {
    let watcher = Watcher::process();
    // Cancel-file re-checks when its directory has no event source (see `watch`).
    let mut backoff = watch::Backoff::default();
    let mut child = Child::Running;
    let mut stop = Stop::None;
    let status = loop {
        let now = Instant::now();
        if let (Child::Running, Stop::None) = (child, stop) {
            let reason = if opts.deadline.is_some_and(|d| now >= d) {
                Some(StopReason::Deadline)
            } else {
                watcher.watch_parent_of(opts.cancel_file);
                cancel_requested(opts.cancel_file).then_some(StopReason::Cancel)
            };
            if let Some(reason) = reason {
                signal_child(pid, libc::SIGTERM);
                stop = Stop::Terminating { reason, since: now };
            }
        }
        // Also after the child's exit: what it left running in its group gets SIGKILL too.
        if let Stop::Terminating { reason, since } = stop
            && now >= since + KILL_GRACE
        {
            signal_child(pid, libc::SIGKILL);
            stop = Stop::Killing { reason };
        }
        let last_data = tee.as_ref().map(tee::Tee::last_data);
        if let Child::Exited { status, at } = child {
            let all_closed = tee.as_ref().is_none_or(tee::Tee::all_finished);
            if all_closed
                || last_data.is_some_and(|l| now >= l.max(at) + TEE_IDLE_AFTER_EXIT)
                || now >= at + TEE_DRAIN_MAX
            {
                break status;
            }
        }

        // How long we may sleep.
        let mut timeout = match (child, stop) {
            (Child::Running, Stop::None) => watcher.idle_timeout(&mut backoff),
            _ => watch::SAFETY_POLL,
        };
        let mut limit = |t: Instant| timeout = timeout.min(t.saturating_duration_since(now));
        match child {
            Child::Running => {
                match stop {
                    Stop::None => opts.deadline.into_iter().for_each(&mut limit),
                    Stop::Terminating { since, .. } => limit(since + KILL_GRACE),
                    Stop::Killing { .. } => {}
                }
                if opts.signals.is_none() {
                    limit(now + NO_SIGNALFD_POLL);
                }
            }
            Child::Exited { at, .. } => {
                if let Some(l) = last_data {
                    limit(l.max(at) + TEE_IDLE_AFTER_EXIT);
                    limit(at + TEE_DRAIN_MAX);
                }
            }
        }

        let running = matches!(child, Child::Running);
        let sig_fd = opts.signals.map(|s| s.raw_fd());
        let ino_fd = if running { watcher.raw_fd() } else { None };
        let mut fds: Vec<RawFd> = Vec::with_capacity(4);
        fds.extend(sig_fd);
        fds.extend(ino_fd);
        let ino_index = fds.len();
        // After the exit, the copiers finishing (EOF on every stream) ends the wait at once.
        if !running {
            fds.extend(tee.as_ref().map(tee::Tee::done_fd));
        }
        let ready = sys::poll_readable(&fds, Some(timeout));

        if let (Some(s), Some(true)) = (opts.signals, sig_fd.map(|_| ready[0])) {
            for sig in s.read_pending() {
                if sig != libc::SIGCHLD && sig != libc::SIGPIPE {
                    pid1::signal_group(pid, sig);
                }
            }
        }
        if ino_fd.is_some() && ready[ino_index - 1] {
            watcher.drain();
        }

        if running {
            let reaped = match opts.signals {
                Some(_) => pid1::reap(pid),
                None => reap_one(pid),
            };
            if let Some(status) = reaped {
                child = Child::Exited {
                    status,
                    at: Instant::now(),
                };
            }
        } else if opts.signals.is_some() {
            // Orphans exiting while the tee drains.
            pid1::reap(0);
        }
    };
    // Whatever is still buffered right now goes out too (unless the console is stuck).
    let tee_error = tee.and_then(|tee| tee.stop(TEE_IDLE_AFTER_EXIT));
    match stop {
        Stop::Terminating { reason, .. } | Stop::Killing { reason } => Err(match reason {
            StopReason::Deadline => RunError::DeadlineExceeded,
            StopReason::Cancel => RunError::Cancelled,
        }),
        // Go's `Wait`: a copy error counts only if the command itself succeeded.
        Stop::None if status.success() => tee_error.map_or(Ok(()), |e| Err(RunError::Other(e))),
        Stop::None => Err(RunError::Exit(status)),
    }
}

fn reap_one(pid: i32) -> Option<ChildStatus> {
    match sys::waitpid(pid, false) {
        Ok(Some((p, status))) if p == pid => ChildStatus::from_raw(status),
        _ => None,
    }
}

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {}", gofs::errno_text(e as i32)))
}

fn set_nonblocking(fd: &OwnedFd) {
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// Starts the child; returns its pid. Errors are Go's `fork/exec <path>: <errno>` text.
fn spawn(
    path: &str,
    command: &[String],
    env: &Env,
    pipes: &[Option<OwnedFd>; 2],
    hermetic: bool,
) -> Result<i32, String> {
    let start_err = |errno: i32| format!("fork/exec {path}: {}", gofs::errno_text(errno));
    let exec = sys::PreparedExec::new(
        CString::new(path).map_err(|_| start_err(libc::EINVAL))?,
        command
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| start_err(libc::EINVAL))?,
        env.iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .collect(),
    );

    let devnull = File::open("/dev/null").map_err(|e| gofs::path_error("open", "/dev/null", &e))?;
    let (err_r, err_w) = pipe()?;
    let sync = if hermetic { Some(pipe()?) } else { None };
    let fds = sys::ChildFds {
        stdin: devnull.as_raw_fd(),
        outputs: [0, 1].map(|i| pipes[i].as_ref().map(|f| f.as_raw_fd())),
        exec_error: err_w.as_raw_fd(),
        wait_for_parent: sync.as_ref().map(|(r, _)| r.as_raw_fd()),
    };
    let pid = sys::fork_exec(&exec, &fds, hermetic).map_err(|errno| {
        if hermetic {
            golog::log(&format!(
                "hermetic step: cannot create user/pid/net/mount namespaces: {}",
                gofs::errno_text(errno as i32)
            ));
        }
        start_err(errno as i32)
    })?;
    // Racing the child's own call is harmless.
    let _ = setpgid(Pid::from_raw(pid), Pid::from_raw(pid));
    if let Some((_, sync_w)) = &sync {
        if let Err(e) = write_id_maps(pid) {
            golog::log(&format!(
                "hermetic step: cannot create user/pid/net/mount namespaces: {e}"
            ));
            pid1::signal_process(pid, libc::SIGKILL);
            pid1::wait_for(pid);
            return Err(start_err(libc::EPERM));
        }
        let _ = write(sync_w, b"x");
    }
    drop(err_w);
    drop(sync);
    let mut errno_buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match read(&err_r, &mut errno_buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    if got == 4 {
        pid1::wait_for(pid);
        return Err(start_err(i32::from_ne_bytes(errno_buf)));
    }
    Ok(pid)
}

fn write_id_maps(pid: i32) -> Result<(), String> {
    for map in ["uid_map", "gid_map"] {
        let p = format!("/proc/{pid}/{map}");
        std::fs::write(&p, HERMETIC_ID_MAP).map_err(|e| gofs::path_error("write", &p, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        std::env::vars().collect()
    }

    fn opts<'a>(cancel: &'a Path) -> RunOptions<'a> {
        RunOptions {
            stdout_path: "",
            stderr_path: "",
            hermetic: false,
            deadline: None,
            cancel_file: cancel,
            signals: None,
        }
    }

    fn cmd(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lookup() {
        let e: Env = vec![("PATH".into(), "/nonexistent:/bin:/usr/bin".into())];
        assert!(look_path("sh", &e).unwrap().ends_with("/sh"));
        assert_eq!(
            look_path("no-such-cmd-xyz", &e).unwrap_err(),
            "exec: \"no-such-cmd-xyz\": executable file not found in $PATH"
        );
        assert_eq!(look_path("./x", &e).unwrap(), "./x");
    }

    #[test]
    fn exit_codes() {
        let c = Path::new("/nonexistent/cancel");
        assert_eq!(run_command(&cmd(&["true"]), &env(), &opts(c)), Ok(()));
        assert_eq!(
            run_command(&cmd(&["sh", "-c", "exit 3"]), &env(), &opts(c)),
            Err(RunError::Exit(ChildStatus::Exited(3)))
        );
        assert_eq!(
            run_command(&cmd(&["sh", "-c", "kill -9 $$"]), &env(), &opts(c)),
            Err(RunError::Exit(ChildStatus::Signaled(9)))
        );
        assert_eq!(run_command(&[], &env(), &opts(c)), Ok(()));
    }

    #[test]
    fn start_failures() {
        let c = Path::new("/nonexistent/cancel");
        assert_eq!(
            run_command(&cmd(&["/nonexistent/x"]), &env(), &opts(c)),
            Err(RunError::Other(
                "fork/exec /nonexistent/x: no such file or directory".into()
            ))
        );
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("noexec");
        std::fs::write(&script, "echo hi").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let s = script.to_string_lossy().into_owned();
        assert_eq!(
            run_command(&cmd(&[&s]), &env(), &opts(c)),
            Err(RunError::Other(format!("fork/exec {s}: exec format error")))
        );
    }

    #[test]
    fn timeout_kills_group_without_hanging_on_tee() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("sub/out.log").to_string_lossy().into_owned();
        let c = d.path().join("cancel");
        let mut o = opts(&c);
        o.stdout_path = &log;
        o.deadline = Some(Instant::now() + Duration::from_millis(200));
        let started = Instant::now();
        let r = run_command(
            &cmd(&["sh", "-c", "echo hello; sleep 30 & sleep 30"]),
            &env(),
            &o,
        );
        assert_eq!(r, Err(RunError::DeadlineExceeded));
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello\n");
    }

    #[test]
    fn cancel_file_content_cancels() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("downward/cancel");
        std::fs::create_dir_all(c.parent().unwrap()).unwrap();
        let c2 = c.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::write(&c2, "CANCEL").unwrap();
        });
        let r = run_command(&cmd(&["sleep", "30"]), &env(), &opts(&c));
        writer.join().unwrap();
        assert_eq!(r, Err(RunError::Cancelled));
    }

    #[test]
    fn tee_same_file_for_both_streams() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("both.log").to_string_lossy().into_owned();
        let c = d.path().join("cancel");
        let mut o = opts(&c);
        o.stdout_path = &log;
        o.stderr_path = &log;
        let r = run_command(
            &cmd(&["sh", "-c", "echo hello world; echo hello world >&2"]),
            &env(),
            &o,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 2 * 12);
    }

    #[test]
    fn background_child_holding_tee_does_not_hang() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("out.log").to_string_lossy().into_owned();
        let c = d.path().join("cancel");
        let mut o = opts(&c);
        o.stdout_path = &log;
        let started = Instant::now();
        let r = run_command(&cmd(&["sh", "-c", "sleep 3 & echo done"]), &env(), &o);
        assert_eq!(r, Ok(()));
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn tee_file_errors() {
        let c = Path::new("/nonexistent/cancel");
        let mut o = opts(c);
        o.stdout_path = "/proc/nope/x";
        match run_command(&cmd(&["true"]), &env(), &o) {
            Err(RunError::Other(m)) => assert!(m.starts_with("error "), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hermetic_rule() {
        let e = |pairs: &[(&str, &str)]| -> Env {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert!(hermetic_requested(&e(&[("TEKTON_HERMETIC", "1")])));
        assert!(!hermetic_requested(&e(&[
            ("TEKTON_HERMETIC", "1"),
            ("TEKTON_RESOURCE_NAME", "x")
        ])));
        assert!(!hermetic_requested(&e(&[("TEKTON_HERMETIC", "true")])));
    }
}
