//! Wake-ups for file conditions, watching the containing directories.
//!
//! Kubernetes updates Downward-API files by swapping a `..data` symlink (a rename inside the
//! volume directory), and the other step containers write post files into their own run
//! directory, so watching the *directory* of each path catches every way the path can appear or
//! change. Callers treat any wake-up as "re-check everything"; event contents are ignored.
//! A directory that does not exist yet is covered by watching its nearest existing ancestor,
//! for entries appearing only: writes to unrelated files there must not wake the waiter.
//!
//! Each directory gets the first source that works, so a busy node degrades gracefully:
//! 1. inotify — one instance per process, but the kernel allows only
//!    `fs.inotify.max_user_instances` (128) per uid, shared by every container of that uid on
//!    the node, and `max_user_watches` watches;
//! 2. dnotify (`fcntl(F_NOTIFY)`): no per-user limit; the kernel sends SIGIO, which the
//!    entrypoint reads from its signalfd like every other signal ([`crate::pid1`] drops these
//!    kernel-sent SIGIOs), so only when signals are routed there;
//! 3. polling, starting at [`POLL_MIN`] and backing off to [`POLL_MAX`].
//!
//! A step's hand-off normally needs none of these: it blocks on the predecessor's liveness lock
//! ([`crate::liveness`]), which is released when the post file is written.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::sys;

/// Safety-net re-check interval with an event source (upstream's polling period), so a
/// missed event can never make a wait longer than upstream's.
pub const SAFETY_POLL: Duration = Duration::from_secs(1);
/// First interval of the polling fallback: a file that appears right away is seen at once.
pub const POLL_MIN: Duration = Duration::from_millis(1);
/// Longest interval of the polling fallback: bounds the latency; ~20 checks/s cost a waiter
/// well under 1 ms CPU per 10 s.
pub const POLL_MAX: Duration = Duration::from_millis(50);

const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM;

/// For an ancestor standing in for a missing directory: only the next level appearing matters.
const ANCESTOR_MASK: u32 = libc::IN_CREATE | libc::IN_MOVED_TO;

// <linux/fcntl.h>; not in the libc crate.
const DN_MODIFY: u32 = 0x2;
const DN_CREATE: u32 = 0x4;
const DN_DELETE: u32 = 0x8;
const DN_RENAME: u32 = 0x10;
const DN_ATTRIB: u32 = 0x20;
const DN_MULTISHOT: u32 = 0x8000_0000;

/// The dnotify mask for an inotify mask.
fn dnotify_mask(inotify_mask: u32) -> u32 {
    if inotify_mask == ANCESTOR_MASK {
        DN_CREATE | DN_RENAME
    } else {
        DN_CREATE | DN_RENAME | DN_DELETE | DN_MODIFY | DN_ATTRIB
    }
}

/// Set once SIGIO is blocked and read from the signalfd: only then may dnotify be used (an
/// unrouted SIGIO would kill the process).
static SIGIO_ROUTED: AtomicBool = AtomicBool::new(false);

/// Called by [`crate::pid1::Signals::init`] once SIGIO goes to the signalfd.
pub fn sigio_routed() {
    SIGIO_ROUTED.store(true, Ordering::SeqCst);
}

/// Which sources a watcher may use (all of them in the entrypoint; tests pick).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sources {
    pub inotify: bool,
    pub dnotify: bool,
}

/// Where the watched directories' events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coverage {
    pub inotify: bool,
    pub dnotify: bool,
    /// Some directory has no event source: re-check by polling.
    pub polling: bool,
}

/// Directory watches (inotify, dnotify or nothing per directory).
pub struct Watcher {
    inotify: Option<Inotify>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    dnotify_allowed: bool,
    /// Directories under dnotify, with their fd (the watch lives as long as it) and mask.
    dnotify: Vec<(PathBuf, OwnedFd, u32)>,
    coverage: Coverage,
}

static PROCESS: std::sync::OnceLock<Watcher> = std::sync::OnceLock::new();

impl Watcher {
    /// The process-wide watcher, never closed: closing an inotify fd that had watches waits
    /// for an RCU grace period in the kernel (milliseconds, far more under load), which must
    /// not sit between a wait file appearing and the command starting, or between the
    /// command's exit and the post file. Created on first use only, so a step that waits on
    /// its predecessor's lock holds no inotify instance.
    pub fn process() -> &'static Watcher {
        PROCESS.get_or_init(|| {
            Watcher::new(Sources {
                inotify: true,
                dnotify: SIGIO_ROUTED.load(Ordering::SeqCst),
            })
        })
    }

    pub fn new(sources: Sources) -> Self {
        let inotify = if sources.inotify {
            Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()
        } else {
            None
        };
        Watcher {
            inotify,
            state: Mutex::new(State {
                dnotify_allowed: sources.dnotify,
                ..State::default()
            }),
        }
    }

    /// The inotify fd to poll for readability; `None` without an inotify instance (dnotify
    /// wakes the signalfd instead).
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.inotify.as_ref().map(|f| f.as_fd().as_raw_fd())
    }

    /// Which sources cover the directories watched so far.
    pub fn coverage(&self) -> Coverage {
        self.state.lock().map(|s| s.coverage).unwrap_or_default()
    }

    /// How long a waiter may sleep before re-checking: the safety net while every directory
    /// has an event source, else the next interval of `backoff`.
    pub fn idle_timeout(&self, backoff: &mut Backoff) -> Duration {
        if self.coverage().polling {
            backoff.interval()
        } else {
            SAFETY_POLL
        }
    }

    /// Watches the directory holding `path`, or its nearest existing ancestor. Cheap to repeat:
    /// the kernel returns the same inotify watch, and dnotify directories are remembered.
    pub fn watch_parent_of(&self, path: &Path) {
        let mut dir: PathBuf = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut mask = MASK;
        loop {
            if self.watch_dir(&dir, mask) {
                return;
            }
            mask = ANCESTOR_MASK;
            match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
                _ if dir.is_relative() && dir != Path::new(".") => dir = PathBuf::from("."),
                _ => return,
            }
        }
    }

    /// false only if `dir` does not exist (or is no directory): the caller goes up a level.
    fn watch_dir(&self, dir: &Path, mask: u32) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        if let Some(fd) = &self.inotify {
            match add_watch(fd, dir, mask) {
                Ok(()) => {
                    state.coverage.inotify = true;
                    return true;
                }
                Err(Errno::ENOENT | Errno::ENOTDIR) => return false,
                // ENOSPC: max_user_watches reached; EACCES and the like: try the next source.
                Err(_) => {}
            }
        }
        if state.dnotify_allowed {
            let want = dnotify_mask(mask);
            if let Some(entry) = state.dnotify.iter_mut().find(|(d, _, _)| d == dir) {
                if entry.2 & want == want {
                    return true;
                }
                let union = entry.2 | want;
                if sys::dnotify(entry.1.as_raw_fd(), union | DN_MULTISHOT).is_ok() {
                    entry.2 = union;
                    return true;
                }
            } else {
                match open_dir(dir) {
                    Ok(fd) => match sys::dnotify(fd.as_raw_fd(), want | DN_MULTISHOT) {
                        Ok(()) => {
                            state.dnotify.push((dir.to_path_buf(), fd, want));
                            state.coverage.dnotify = true;
                            return true;
                        }
                        // EINVAL: fs.dir-notify-enable=0 or no CONFIG_DNOTIFY.
                        Err(Errno::EINVAL) => state.dnotify_allowed = false,
                        Err(_) => {}
                    },
                    Err(Errno::ENOENT | Errno::ENOTDIR) => return false,
                    Err(_) => {}
                }
            }
        } else if !dir.is_dir() {
            return false;
        }
        state.coverage.polling = true;
        true
    }

    /// Discards queued inotify events.
    pub fn drain(&self) {
        let Some(fd) = &self.inotify else { return };
        let mut buf = [0u8; 1024];
        while nix::unistd::read(fd, &mut buf).is_ok_and(|n| n > 0) {}
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd, Errno> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Adds `mask` to the watch of `dir` (`IN_MASK_ADD`: a directory that is both a parent and an
/// ancestor keeps the wider mask).
fn add_watch(inotify: &Inotify, dir: &Path, mask: u32) -> Result<(), Errno> {
    let flags = AddWatchFlags::from_bits_retain(mask | libc::IN_MASK_ADD);
    inotify.add_watch(dir, flags).map(|_| ())
}

/// Polling intervals: [`POLL_MIN`], doubling up to [`POLL_MAX`].
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: POLL_MIN }
    }
}

impl Backoff {
    pub fn interval(&mut self) -> Duration {
        let now = self.next;
        self.next = (now * 2).min(POLL_MAX);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll_readable;

    const INOTIFY_ONLY: Sources = Sources {
        inotify: true,
        dnotify: false,
    };

    #[test]
    fn event_wakes_poll() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out");
        let w = Watcher::new(INOTIFY_ONLY);
        let fd = w.raw_fd().expect("inotify");
        w.watch_parent_of(&target);
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_millis(10))),
            vec![false]
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_secs(5))),
            vec![true]
        );
        w.drain();
        w.watch_parent_of(&target);
        std::fs::write(&target, "").unwrap();
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_secs(5))),
            vec![true]
        );
    }

    #[test]
    fn ancestors_wake_only_for_new_entries() {
        let dir = tempfile::tempdir().unwrap();
        let busy = dir.path().join("log");
        std::fs::write(&busy, "").unwrap();
        let w = Watcher::new(INOTIFY_ONLY);
        let fd = w.raw_fd().expect("inotify");
        w.watch_parent_of(&dir.path().join("missing/out"));
        std::fs::write(&busy, "written often").unwrap();
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_millis(50))),
            vec![false]
        );
        std::fs::create_dir(dir.path().join("missing")).unwrap();
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_secs(5))),
            vec![true]
        );
    }

    #[test]
    fn a_parent_that_is_also_an_ancestor_keeps_the_full_mask() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        let w = Watcher::new(INOTIFY_ONLY);
        let fd = w.raw_fd().expect("inotify");
        w.watch_parent_of(&file);
        w.watch_parent_of(&dir.path().join("missing/out"));
        std::fs::write(&file, "").unwrap();
        w.drain();
        std::fs::write(&file, "changed").unwrap();
        assert_eq!(
            poll_readable(&[fd], Some(Duration::from_secs(5))),
            vec![true]
        );
    }

    #[test]
    fn without_event_sources_it_polls_with_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watcher::new(Sources {
            inotify: false,
            dnotify: false,
        });
        assert_eq!(w.raw_fd(), None);
        w.watch_parent_of(&dir.path().join("missing/out"));
        assert_eq!(
            w.coverage(),
            Coverage {
                polling: true,
                ..Coverage::default()
            }
        );
        let mut b = Backoff::default();
        let steps: Vec<_> = (0..8).map(|_| w.idle_timeout(&mut b)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            steps,
            [ms(1), ms(2), ms(4), ms(8), ms(16), ms(32), ms(50), ms(50)]
        );
    }

    #[test]
    fn inotify_coverage_keeps_the_safety_poll() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watcher::new(INOTIFY_ONLY);
        w.watch_parent_of(&dir.path().join("out"));
        assert_eq!(
            w.coverage(),
            Coverage {
                inotify: true,
                ..Coverage::default()
            }
        );
        assert_eq!(w.idle_timeout(&mut Backoff::default()), SAFETY_POLL);
    }
}
