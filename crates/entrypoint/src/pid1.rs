//! PID 1 duties: signal routing and reaping.
//!
//! In a pod the entrypoint is PID 1 of its container. Every asynchronous signal is blocked in
//! all threads and read from a `signalfd`, so one poll loop decides what a signal means:
//! while waiting for the previous step a terminating signal ends the process (like Go's runtime:
//! by the signal itself, or exit status 2 when PID 1, where the kernel ignores default actions);
//! while the child runs it is forwarded to the child's process group. Blocked signals are queued
//! even for PID 1, which would otherwise drop signals it has no handler for.
//!
//! When not PID 1 the process makes itself a child subreaper so orphaned descendants of the step
//! are reparented to it and reaped (`waitpid(-1)` loop, like tini).

use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::getpid;

use crate::sys;

/// Signals that are never blocked: synchronous faults must keep their default action, and
/// SIGKILL/SIGSTOP cannot be caught.
const UNBLOCKABLE: &[i32] = &[
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGABRT,
];

/// Signals whose default action terminates the process; received while no child runs they end
/// the entrypoint (Go's runtime does the same for signals nobody subscribed to).
const TERMINATING: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGTERM,
];

/// Exit status Go's runtime uses when a fatal signal could not kill the process (PID 1).
pub const EXIT_STATUS_UNKILLABLE: i32 = 2;

/// The blocked-signal set and the `signalfd` reading it.
pub struct Signals {
    fd: SignalFd,
    /// Terminating signals inherited as ignored (e.g. `nohup`): Go's runtime keeps those
    /// ignored until something subscribes, so they do not end the wait phase either.
    ignored_at_start: u64,
}

/// How the direct child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    Exited(i32),
    Signaled(i32),
}

impl ChildStatus {
    /// Go's `ExitError.ExitCode()`: the status, or -1 when killed by a signal.
    pub fn code(self) -> i32 {
        match self {
            ChildStatus::Exited(c) => c,
            ChildStatus::Signaled(_) => -1,
        }
    }

    pub fn success(self) -> bool {
        self == ChildStatus::Exited(0)
    }

    /// Go's `ExitError.Error()`: `exit status N` / `signal: <name>`.
    pub fn describe(self) -> String {
        match self {
            ChildStatus::Exited(c) => format!("exit status {c}"),
            ChildStatus::Signaled(s) => format!("signal: {}", signal_name(s)),
        }
    }

    pub(crate) fn from_raw(status: i32) -> Option<Self> {
        if libc::WIFEXITED(status) {
            Some(ChildStatus::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ChildStatus::Signaled(libc::WTERMSIG(status)))
        } else {
            None
        }
    }
}

/// Go's `syscall.Signal.String()` for the common signals.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "hangup",
        libc::SIGINT => "interrupt",
        libc::SIGQUIT => "quit",
        libc::SIGILL => "illegal instruction",
        libc::SIGTRAP => "trace/breakpoint trap",
        libc::SIGABRT => "aborted",
        libc::SIGBUS => "bus error",
        libc::SIGFPE => "floating point exception",
        libc::SIGKILL => "killed",
        libc::SIGUSR1 => "user defined signal 1",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGUSR2 => "user defined signal 2",
        libc::SIGPIPE => "broken pipe",
        libc::SIGALRM => "alarm clock",
        libc::SIGTERM => "terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "file size limit exceeded",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

fn blockable_set() -> SigSet {
    let mut set = SigSet::all();
    for &s in UNBLOCKABLE {
        if let Ok(sig) = Signal::try_from(s) {
            set.remove(sig);
        }
    }
    set
}

impl Signals {
    /// Blocks every asynchronous signal in the calling thread (threads created later inherit
    /// the mask), opens the `signalfd`, and becomes a child subreaper unless PID 1.
    /// Must run before any thread is spawned.
    pub fn init() -> Result<Signals, String> {
        let set = blockable_set();
        if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_err() {
            return Err("cannot block signals".to_string());
        }
        let fd = match SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                // Nobody would read them: give the signals back their default handling.
                let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
                return Err(format!("signalfd: {}", gocompat::fs::errno_text(e as i32)));
            }
        };
        crate::watch::sigio_routed();
        if getpid().as_raw() != 1 {
            // Best effort: without it orphans go to the real init, which reaps them.
            let _ = prctl::set_child_subreaper(true);
        }
        let ignored_at_start = TERMINATING
            .iter()
            .filter(|&&sig| sys::is_ignored(sig))
            .fold(0u64, |bits, &sig| bits | 1 << sig);
        Ok(Signals {
            fd,
            ignored_at_start,
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads every queued signal number (non-blocking). A SIGIO the kernel sent for a dnotify
    /// watch ([`crate::watch`]) is only a wake-up and is left out; one sent by a process
    /// (`kill`, `si_code` ≤ 0) is a signal like any other.
    pub fn read_pending(&self) -> Vec<i32> {
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            let sig = info.ssi_signo as i32;
            if !(sig == libc::SIGIO && info.ssi_code > 0) {
                out.push(sig);
            }
        }
        out
    }

    /// While no child runs: a terminating signal ends the process, others are dropped.
    pub fn handle_while_idle(&self) {
        for sig in self.read_pending() {
            if sig == libc::SIGCHLD {
                // Orphans of the finished step can still exit while we wait (breakpoints).
                reap(0);
                continue;
            }
            let ignored = sig < 64 && self.ignored_at_start & (1 << sig) != 0;
            if is_terminating(sig) && !ignored {
                die_by_signal(sig);
            }
        }
    }
}

/// Whether `sig` ends the process when nobody handles it.
pub fn is_terminating(sig: i32) -> bool {
    TERMINATING.contains(&sig) || (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&sig)
}

/// Dies the way Go's runtime does on an unhandled fatal signal: by the signal itself; PID 1
/// (which the kernel protects from default actions) exits with status 2.
pub fn die_by_signal(sig: i32) -> ! {
    // Ending on request (pod deletion): not a crash a successor must detect.
    crate::liveness::remove_now();
    sys::die_by_signal(sig, EXIT_STATUS_UNKILLABLE)
}

/// Reaps every exited child without blocking; returns the status of `child` if it was among
/// them. Orphans reparented to us are reaped and forgotten.
pub fn reap(child: i32) -> Option<ChildStatus> {
    let mut found = None;
    while let Ok(Some((pid, status))) = sys::waitpid(-1, false) {
        if pid == child
            && let Some(st) = ChildStatus::from_raw(status)
        {
            found = Some(st);
        }
    }
    found
}

/// Blocks until `pid` has exited (used when its start failed).
pub fn wait_for(pid: i32) -> Option<ChildStatus> {
    loop {
        match sys::waitpid(pid, true) {
            Ok(Some((r, status))) if r == pid => return ChildStatus::from_raw(status),
            Err(Errno::EINTR) | Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Sends `sig` to process group `pgid`; false if the group no longer exists.
pub fn signal_group(pgid: i32, sig: i32) -> bool {
    sys::kill(-pgid, sig)
}

/// Sends `sig` to process `pid`.
pub fn signal_process(pid: i32, sig: i32) {
    sys::kill(pid, sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts() {
        assert_eq!(ChildStatus::Exited(3).describe(), "exit status 3");
        assert_eq!(ChildStatus::Signaled(2).describe(), "signal: interrupt");
        assert_eq!(ChildStatus::Signaled(9).code(), -1);
        assert_eq!(ChildStatus::Exited(7).code(), 7);
        assert!(ChildStatus::Exited(0).success());
        assert_eq!(signal_name(libc::SIGKILL), "killed");
    }

    #[test]
    fn terminating_set() {
        assert!(is_terminating(libc::SIGTERM));
        assert!(is_terminating(libc::SIGINT));
        assert!(!is_terminating(libc::SIGCHLD));
        assert!(!is_terminating(libc::SIGWINCH));
    }
}
