//! The syscalls neither std nor nix offer in the form needed, and with them every `unsafe` block
//! of the crate outside tests: raw signal numbers (nix's `Signal` cannot name realtime signals,
//! and its `waitpid` fails on a child they killed, after reaping it), `poll` on raw fds, the
//! fork/clone and exec of the step's command, dnotify, an explicit unlock, and the exit hook.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::time::Duration;

use nix::errno::Errno;

/// Sends `sig` to `pid` (a negative `pid` is a process group); false if nothing received it.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill has no memory arguments.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// `waitpid(pid, WNOHANG or 0)`: the reaped pid and its raw status, `None` if nothing exited.
pub fn waitpid(pid: i32, block: bool) -> Result<Option<(i32, i32)>, Errno> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: waitpid with a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    match r {
        r if r < 0 => Err(Errno::last()),
        0 => Ok(None),
        r => Ok(Some((r, status))),
    }
}

/// Whether `sig`'s disposition is "ignore" (inherited, e.g. through `nohup`).
pub fn is_ignored(sig: i32) -> bool {
    // SAFETY: sigaction only reads into a zeroed local.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Ends the process by `sig` at its default action (unblocked in this thread), or with
/// `status` where the kernel ignores it (PID 1).
pub fn die_by_signal(sig: i32, status: i32) -> ! {
    // SAFETY: resetting a disposition and re-raising; all arguments valid.
    unsafe {
        if libc::getpid() != 1 {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::kill(libc::getpid(), sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
        libc::_exit(status)
    }
}

/// `fcntl(fd, F_NOTIFY, mask)`: dnotify on the directory `fd`; the kernel then sends SIGIO to
/// this process on the events in `mask`.
pub fn dnotify(fd: RawFd, mask: u32) -> Result<(), Errno> {
    // SAFETY: fcntl with an integer argument.
    let r = unsafe { libc::fcntl(fd, libc::F_NOTIFY, mask as libc::c_int) };
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// `flock(fd, LOCK_UN)`; the fd stays open (and may be locked again).
pub fn unlock(fd: RawFd) {
    // SAFETY: flock has no memory arguments.
    unsafe { libc::flock(fd, libc::LOCK_UN) };
}

/// Runs `hook` at a normal process exit (`exit`, not `_exit` or a signal).
pub fn at_exit(hook: extern "C" fn()) {
    // SAFETY: registering a plain extern "C" function.
    unsafe { libc::atexit(hook) };
}

/// `poll(2)` on `fds` for readability; returns which fds are readable (same order). Interrupted
/// or failed polls report nothing readable.
pub fn poll_readable(fds: &[RawFd], timeout: Option<Duration>) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        None => -1,
        Some(d) => {
            d.as_millis().min(i32::MAX as u128) as i32
                + i32::from(d.subsec_nanos() % 1_000_000 != 0)
        }
    };
    // SAFETY: pfds is a valid array of its length.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    pfds.iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect()
}

/// Exit status of a forked child whose exec failed (never observed by callers).
const EXEC_FAILED_STATUS: i32 = 127;

/// Everything the forked child touches, prepared before the fork (no allocation after it):
/// NULL-terminated pointer arrays into the strings it keeps.
pub struct PreparedExec {
    path: CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    _strings: [Vec<CString>; 2],
}

impl PreparedExec {
    pub fn new(path: CString, argv: Vec<CString>, envp: Vec<CString>) -> Self {
        let pointers = |v: &[CString]| {
            let nul = std::iter::once(std::ptr::null());
            v.iter().map(|a| a.as_ptr()).chain(nul).collect()
        };
        PreparedExec {
            path,
            argv: pointers(&argv),
            envp: pointers(&envp),
            _strings: [argv, envp],
        }
    }
}

/// The child's file descriptors: stdin, optional stdout/stderr replacements, the pipe that
/// carries exec's errno, and (new namespaces) the pipe to wait on until the id maps are written.
pub struct ChildFds {
    pub stdin: RawFd,
    pub outputs: [Option<RawFd>; 2],
    pub exec_error: RawFd,
    pub wait_for_parent: Option<RawFd>,
}

/// Forks — or clones into new user, pid, net and mount namespaces — and execs `exec` in the
/// child in its own process group, all signals at their default action and unblocked.
/// Returns the child's pid; exec's failure arrives as 4 bytes of errno on `fds.exec_error`.
pub fn fork_exec(exec: &PreparedExec, fds: &ChildFds, new_namespaces: bool) -> Result<i32, Errno> {
    // SAFETY: fork/clone; the child only makes async-signal-safe syscalls on data prepared
    // before and then execs or _exits.
    let pid = unsafe {
        if new_namespaces {
            let flags = libc::CLONE_NEWNS
                | libc::CLONE_NEWPID
                | libc::CLONE_NEWNET
                | libc::CLONE_NEWUSER
                | libc::SIGCHLD;
            libc::syscall(
                libc::SYS_clone,
                flags as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            ) as i32
        } else {
            libc::fork()
        }
    };
    match pid {
        p if p < 0 => Err(Errno::last()),
        // SAFETY: in the child; see above.
        0 => unsafe { child_after_fork(exec, fds) },
        p => Ok(p),
    }
}

/// The forked child: wait for the id maps (new namespaces), join its own process group, set up
/// stdio, restore signal defaults, exec. Reports exec failure's errno through `exec_error`.
unsafe fn child_after_fork(exec: &PreparedExec, fds: &ChildFds) -> ! {
    // SAFETY: async-signal-safe syscalls only.
    unsafe {
        if let Some(fd) = fds.wait_for_parent {
            let mut b = 0u8;
            if libc::read(fd, (&mut b as *mut u8).cast(), 1) != 1 {
                libc::_exit(EXEC_FAILED_STATUS);
            }
        }
        libc::setpgid(0, 0);
        dup_onto(fds.stdin, 0);
        for (target, src) in [(1, fds.outputs[0]), (2, fds.outputs[1])] {
            if let Some(src) = src {
                dup_onto(src, target);
            }
        }
        // Exec keeps ignored dispositions (Rust ignores SIGPIPE; a parent may have ignored
        // SIGINT/SIGHUP). Like Go's runtime, which had handlers on every signal, the command
        // starts with all signals at their default action.
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
        let errno = *libc::__errno_location();
        let bytes = errno.to_ne_bytes();
        libc::write(fds.exec_error, bytes.as_ptr().cast(), 4);
        libc::_exit(EXEC_FAILED_STATUS)
    }
}

/// `dup2` that also works when `src == target` (clears close-on-exec instead).
unsafe fn dup_onto(src: RawFd, target: RawFd) {
    // SAFETY: fd syscalls only.
    unsafe {
        if src == target {
            libc::fcntl(target, libc::F_SETFD, 0);
        } else {
            libc::dup2(src, target);
        }
    }
}
