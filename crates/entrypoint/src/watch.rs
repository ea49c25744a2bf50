//! Wake-ups for file conditions via inotify on the containing directories.
//!
//! Kubernetes updates Downward-API files by swapping a `..data` symlink (a rename inside the
//! volume directory), and the other step containers write post files into their own run
//! directory, so watching the *directory* of each path catches every way the path can appear or
//! change. Callers treat any event as "re-check everything"; the event contents are ignored.
//! A directory that does not exist yet is covered by watching its nearest existing ancestor,
//! for entries appearing only: writes to unrelated files there must not wake the waiter.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Safety-net re-check interval even when inotify works (upstream's polling period), so a
/// missed event can never make a wait longer than upstream's.
pub const SAFETY_POLL: Duration = Duration::from_secs(1);

const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM;

/// For an ancestor standing in for a missing directory: only the next level appearing matters.
const ANCESTOR_MASK: u32 = libc::IN_CREATE | libc::IN_MOVED_TO;

/// An inotify instance watching directories (or nothing, when inotify is unavailable).
pub struct Watcher {
    fd: Option<Inotify>,
}

static PROCESS: std::sync::OnceLock<Watcher> = std::sync::OnceLock::new();

impl Watcher {
    /// The process-wide instance, never closed: closing an inotify fd that had watches waits
    /// for an RCU grace period in the kernel (milliseconds, far more under load), which must
    /// not sit between a wait file appearing and the command starting, or between the
    /// command's exit and the post file.
    pub fn process() -> &'static Watcher {
        PROCESS.get_or_init(Watcher::new)
    }

    fn new() -> Self {
        Watcher {
            fd: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok(),
        }
    }

    /// The fd to poll for readability; `None` when inotify could not be initialised.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_fd().as_raw_fd())
    }

    /// Watches the directory holding `path`, or its nearest existing ancestor. Cheap to repeat:
    /// the kernel returns the same watch for an already watched directory.
    pub fn watch_parent_of(&self, path: &Path) {
        let Some(fd) = &self.fd else { return };
        let mut dir: PathBuf = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut mask = MASK;
        loop {
            if add_watch(fd, &dir, mask) {
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

    /// Discards queued events.
    pub fn drain(&self) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; 1024];
        while nix::unistd::read(fd, &mut buf).is_ok_and(|n| n > 0) {}
    }
}

/// Adds `mask` to the watch of `dir` (`IN_MASK_ADD`: a directory that is both a parent and an
/// ancestor keeps the wider mask).
fn add_watch(inotify: &Inotify, dir: &Path, mask: u32) -> bool {
    let flags = AddWatchFlags::from_bits_retain(mask | libc::IN_MASK_ADD);
    inotify.add_watch(dir, flags).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll_readable;

    #[test]
    fn event_wakes_poll() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out");
        let w = Watcher::new();
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
        let w = Watcher::new();
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
        let w = Watcher::new();
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
}
