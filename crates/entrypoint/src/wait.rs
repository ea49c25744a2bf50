//! Waiting for a file (docs/contract.md §3.7), event-driven.
//!
//! Same decisions as upstream's 1-second polling waiter — `file` present (and non-empty with
//! `expect_content`) wins, then `<file>.err` means "skip" (or "go" with
//! `-breakpoint_on_failure`), a stat error other than ENOENT fails — but re-checked on every
//! wake-up, with the first check immediate.
//!
//! For the wait files of a step it blocks on the predecessor's liveness lock (`.<file>.lock`,
//! see [`crate::liveness`]), which a stepkit predecessor releases right after its post file:
//! the common hand-off needs no directory watch at all, so no inotify instance (128 per uid
//! on a node). Once the predecessor's entrypoint has gone without writing `<file>` or
//! `<file>.err`, the wait ends as if `<file>.err` had appeared. Without a lock (upstream's
//! entrypoint, a predecessor not started yet, Downward-API files) the directories are watched
//! ([`crate::watch`]: inotify, dnotify, or bounded adaptive polling).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::liveness;
use crate::pid1::Signals;
use crate::sys;
use crate::watch::{self, Watcher};

/// How long a step's wait looks for its predecessor's lock by polling before it watches the
/// directory instead.
const LOCK_GRACE: Duration = Duration::from_millis(300);
/// Longest interval of that polling: a post file appearing meanwhile is seen that fast.
const LOCK_GRACE_POLL: Duration = Duration::from_millis(10);
/// Re-check interval while blocked on a lock. Its release comes with the post file or the
/// owner's death, so there is no event to miss; each wake-up costs ~50 µs CPU on a busy VM, and
/// a node may hold hundreds of such waiters.
const LOCK_SAFETY_POLL: Duration = Duration::from_secs(10);

/// Why a wait ended without the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// `<file>.err` exists: the previous step failed.
    Skip,
    /// The previous step's entrypoint exited without writing a post file.
    PredecessorGone,
    /// stat failed with something other than ENOENT (Go: `waiting for "<f>": stat <f>: …`).
    Failed(String),
}

/// How a wait reads the file and its neighbours; the default is a debug script's file.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitRules {
    /// `-wait_file_content`: an empty file does not count yet.
    pub expect_content: bool,
    /// `-breakpoint_on_failure`: `<file>.err` or a dead predecessor ends the wait successfully.
    pub breakpoint_on_failure: bool,
    /// Watch the predecessor's liveness lock (a step's wait files).
    pub watch_predecessor: bool,
}

/// Waits on files, routing signals that arrive meanwhile.
pub struct Waiter<'a> {
    signals: Option<&'a Signals>,
    /// The watcher to use instead of the process's (tests pick its sources).
    watcher: Option<&'a Watcher>,
}

impl<'a> Waiter<'a> {
    pub fn new(signals: Option<&'a Signals>) -> Self {
        Waiter {
            signals,
            watcher: None,
        }
    }

    #[cfg(test)]
    fn with_watcher(watcher: &'a Watcher) -> Self {
        Waiter {
            signals: None,
            watcher: Some(watcher),
        }
    }

    fn watcher(&self) -> &'a Watcher {
        match self.watcher {
            Some(w) => w,
            None => Watcher::process(),
        }
    }

    /// Blocks until `file` is ready (see module docs).
    pub fn wait(&self, file: &str, rules: WaitRules) -> Result<(), WaitError> {
        let WaitRules {
            expect_content,
            breakpoint_on_failure,
            watch_predecessor,
        } = rules;
        if file.is_empty() {
            return Ok(());
        }
        let path = Path::new(file);
        let err_file = format!("{file}.err");
        let lock_file = liveness::lock_path(file);
        let mut lock_waiter: Option<OwnedFd> = None;
        // A lock path that is not a regular file is reported once and then left alone.
        let mut lock_refused = false;
        let mut predecessor_gone = false;
        // Directory watches only when there is no lock to block on (first use creates the
        // process's watcher, possibly an inotify instance).
        let mut watcher: Option<&Watcher> = None;
        let mut backoff = watch::Backoff::default();
        // The kubelet starts the predecessor's container first, but its lock is taken a few
        // milliseconds after its exec: poll briefly for it before arming a watcher (which
        // would hold an inotify instance for the rest of this process).
        let grace_end = Instant::now() + LOCK_GRACE;
        loop {
            // Armed before the checks, so nothing that happens after them is missed.
            if let Some(w) = watcher {
                w.watch_parent_of(path);
            }
            match std::fs::metadata(path) {
                Ok(meta) if !expect_content || meta.len() > 0 => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(WaitError::Failed(format!(
                        "waiting for {}: {}",
                        goflag::go_quote(file),
                        gocompat::fs::path_error("stat", file, &e)
                    )));
                }
            }
            let failed = if std::fs::metadata(&err_file).is_ok() {
                Some(WaitError::Skip)
            } else {
                predecessor_gone.then_some(WaitError::PredecessorGone)
            };
            if let Some(e) = failed {
                return if breakpoint_on_failure {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            if watch_predecessor && lock_waiter.is_none() && !lock_refused && lock_file.exists() {
                match liveness::spawn_lock_waiter(&lock_file) {
                    Ok(fd) => lock_waiter = fd,
                    Err(line) => {
                        golog::log(&line);
                        lock_refused = true;
                    }
                }
            }
            // The lock is released when the post file is written or its owner dies: with it
            // (and an entrypoint like this one on the other side) nothing else can change
            // the outcome. Without it (upstream's entrypoint, not started yet, a Downward-API
            // file): watch the directory, then check again before sleeping.
            let now = Instant::now();
            let in_grace = watch_predecessor && !lock_refused && now < grace_end;
            if lock_waiter.is_none() && watcher.is_none() && !in_grace {
                watcher = Some(self.watcher());
                continue;
            }

            let mut fds = Vec::with_capacity(3);
            let sig_fd = self.signals.map(|s| s.raw_fd());
            fds.extend(sig_fd);
            let watch_fd = watcher.and_then(Watcher::raw_fd);
            fds.extend(watch_fd);
            let lock_fd = lock_waiter.as_ref().map(|f| f.as_raw_fd());
            fds.extend(lock_fd);
            let timeout = match (lock_waiter.is_some(), watcher) {
                (true, _) => LOCK_SAFETY_POLL,
                (false, Some(w)) => w.idle_timeout(&mut backoff),
                (false, None) => backoff
                    .interval()
                    .min(LOCK_GRACE_POLL)
                    .min(grace_end.saturating_duration_since(now)),
            };
            let ready = sys::poll_readable(&fds, Some(timeout));
            for (fd, r) in fds.iter().zip(ready) {
                if !r {
                    continue;
                }
                if Some(*fd) == sig_fd {
                    if let Some(s) = self.signals {
                        s.handle_while_idle();
                    }
                } else if Some(*fd) == lock_fd {
                    // The predecessor released its lock: it has posted or exited. Re-check
                    // the post files once more before concluding it died without one.
                    predecessor_gone = true;
                    lock_waiter = None;
                } else if let Some(w) = watcher {
                    w.drain();
                }
            }
        }
    }

    /// After `file` appeared: gives a writer that created it empty (`echo 1 > f` is create,
    /// then write) up to `limit` to put content in it. Upstream only looked again a poll
    /// period later, so its readers practically always saw the content.
    pub fn settle_content(&self, file: &str, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        let watcher = self.watcher();
        let mut backoff = watch::Backoff::default();
        loop {
            watcher.watch_parent_of(Path::new(file));
            let has_content = std::fs::metadata(file).is_ok_and(|m| m.len() > 0);
            let now = std::time::Instant::now();
            if has_content || now >= deadline {
                return;
            }
            let mut fds = Vec::with_capacity(2);
            let sig_fd = self.signals.map(|s| s.raw_fd());
            fds.extend(sig_fd);
            fds.extend(watcher.raw_fd());
            let timeout = (deadline - now).min(watcher.idle_timeout(&mut backoff));
            let ready = sys::poll_readable(&fds, Some(timeout));
            if let (Some(s), Some(true)) = (self.signals, sig_fd.map(|_| ready[0])) {
                s.handle_while_idle();
            }
            watcher.drain();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    fn step_wait(expect_content: bool, breakpoint_on_failure: bool) -> WaitRules {
        WaitRules {
            expect_content,
            breakpoint_on_failure,
            watch_predecessor: true,
        }
    }

    fn wait_in_thread(
        file: String,
        content: bool,
        breakpoint_on_failure: bool,
    ) -> mpsc::Receiver<Result<(), WaitError>> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ =
                tx.send(Waiter::new(None).wait(&file, step_wait(content, breakpoint_on_failure)));
        });
        rx
    }

    #[test]
    fn settle_content_waits_for_the_write() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out.breakpointexit");
        std::fs::write(&f, "").unwrap();
        let f2 = f.clone();
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            std::fs::write(&f2, "1\n").unwrap();
        });
        let fs = f.to_string_lossy().into_owned();
        Waiter::new(None).settle_content(&fs, Duration::from_secs(5));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "1\n");
        writer.join().unwrap();
        // Stays empty: gives up after the limit.
        let g = d.path().join("empty").to_string_lossy().into_owned();
        std::fs::write(&g, "").unwrap();
        Waiter::new(None).settle_content(&g, Duration::from_millis(50));
    }

    #[test]
    fn empty_path_returns_at_once() {
        assert_eq!(Waiter::new(None).wait("", step_wait(true, false)), Ok(()));
    }

    #[test]
    fn existing_file_returns_at_once() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out");
        std::fs::write(&f, "").unwrap();
        let f = f.to_string_lossy().into_owned();
        assert_eq!(Waiter::new(None).wait(&f, step_wait(false, false)), Ok(()));
    }

    #[test]
    fn missing_file_blocks_until_created() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("run/0/out");
        let rx = wait_in_thread(f.to_string_lossy().into_owned(), false, false);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "").unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    }

    #[test]
    fn content_required() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("ready");
        std::fs::write(&f, "").unwrap();
        let rx = wait_in_thread(f.to_string_lossy().into_owned(), true, false);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        std::fs::write(&f, "READY").unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    }

    #[test]
    fn symlink_swap_like_downward_api() {
        let d = tempfile::tempdir().unwrap();
        let data1 = d.path().join("..data_1");
        std::fs::create_dir(&data1).unwrap();
        std::fs::write(data1.join("ready"), "").unwrap();
        std::os::unix::fs::symlink("..data_1", d.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/ready", d.path().join("ready")).unwrap();
        let f = d.path().join("ready").to_string_lossy().into_owned();
        let rx = wait_in_thread(f, true, false);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        let data2 = d.path().join("..data_2");
        std::fs::create_dir(&data2).unwrap();
        std::fs::write(data2.join("ready"), "READY").unwrap();
        std::os::unix::fs::symlink("..data_2", d.path().join("..data_tmp")).unwrap();
        std::fs::rename(d.path().join("..data_tmp"), d.path().join("..data")).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    }

    #[test]
    fn err_file_skips_or_continues_with_breakpoint() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out");
        std::fs::write(d.path().join("out.err"), "").unwrap();
        let f = f.to_string_lossy().into_owned();
        assert_eq!(
            Waiter::new(None).wait(&f, step_wait(false, false)),
            Err(WaitError::Skip)
        );
        assert_eq!(Waiter::new(None).wait(&f, step_wait(false, true)), Ok(()));
    }

    #[test]
    fn out_wins_over_err() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("out"), "").unwrap();
        std::fs::write(d.path().join("out.err"), "").unwrap();
        let f = d.path().join("out").to_string_lossy().into_owned();
        assert_eq!(Waiter::new(None).wait(&f, step_wait(false, false)), Ok(()));
    }

    #[test]
    fn err_file_appearing_later() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out").to_string_lossy().into_owned();
        let rx = wait_in_thread(f, false, false);
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        std::fs::write(d.path().join("out.err"), "").unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Err(WaitError::Skip)
        );
    }

    #[test]
    fn stat_error_fails() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("file"), "").unwrap();
        // ENOTDIR: a path through a regular file.
        let f = d.path().join("file/out").to_string_lossy().into_owned();
        match Waiter::new(None).wait(&f, step_wait(false, false)) {
            Err(WaitError::Failed(m)) => {
                assert_eq!(m, format!("waiting for \"{f}\": stat {f}: not a directory"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dead_predecessor_is_detected() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out").to_string_lossy().into_owned();
        // A "predecessor" holding the lock in this process: release it by dropping.
        let held = liveness::hold(&out).expect("lock");
        let rx = wait_in_thread(out.clone(), false, false);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(held);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Err(WaitError::PredecessorGone)
        );
    }

    const NO_EVENTS: watch::Sources = watch::Sources {
        inotify: false,
        dnotify: false,
    };

    /// A wait with neither inotify nor dnotify (both exhausted or disabled), in a thread.
    fn poll_wait(file: String) -> mpsc::Receiver<(Result<(), WaitError>, watch::Coverage)> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let w = Watcher::new(NO_EVENTS);
            let r = Waiter::with_watcher(&w).wait(&file, step_wait(false, false));
            let _ = tx.send((r, w.coverage()));
        });
        rx
    }

    #[test]
    fn polling_sees_a_post_file_without_lock_like_upstreams() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let rx = poll_wait(out.to_string_lossy().into_owned());
        // Past the grace for a lock: the directory is watched (here: polled) now.
        assert!(rx.recv_timeout(LOCK_GRACE * 2).is_err());
        std::fs::write(&out, "").unwrap();
        let (r, coverage) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r, Ok(()));
        assert!(coverage.polling && !coverage.inotify && !coverage.dnotify);
    }

    #[test]
    fn polling_sees_the_err_file() {
        let d = tempfile::tempdir().unwrap();
        let rx = poll_wait(d.path().join("out").to_string_lossy().into_owned());
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        std::fs::write(d.path().join("out.err"), "").unwrap();
        let (r, _) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r, Err(WaitError::Skip));
    }

    #[test]
    fn polling_finds_a_late_lock_and_a_dead_predecessor() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out").to_string_lossy().into_owned();
        // The predecessor starts after the waiter: its lock appears while polling.
        let rx = poll_wait(out.clone());
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        let held = liveness::hold(&out).expect("lock");
        thread::sleep(Duration::from_millis(100));
        drop(held);
        let (r, _) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r, Err(WaitError::PredecessorGone));
    }

    #[test]
    fn a_held_lock_is_waited_on_without_any_watcher() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out").to_string_lossy().into_owned();
        let held = liveness::hold(&out).expect("lock");
        let (tx, rx) = mpsc::channel();
        let out2 = out.clone();
        thread::spawn(move || {
            let w = Watcher::new(NO_EVENTS);
            let r = Waiter::with_watcher(&w).wait(&out2, step_wait(false, false));
            let _ = tx.send((r, w.coverage()));
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        std::fs::write(&out, "").unwrap();
        // Like the entrypoint: the post file, then the release.
        drop(held);
        let (r, coverage) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r, Ok(()));
        assert_eq!(coverage, watch::Coverage::default(), "no directory watched");
    }

    #[test]
    fn finished_predecessor_is_not_dead() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out").to_string_lossy().into_owned();
        let held = liveness::hold(&out).expect("lock");
        let rx = wait_in_thread(out.clone(), false, false);
        std::fs::write(&out, "").unwrap();
        drop(held);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    }
}
