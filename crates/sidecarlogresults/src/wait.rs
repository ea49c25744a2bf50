//! Waiting for the steps: every `/tekton/run/<i>/out` present, or any `out.err`.
//!
//! The run directories are listed once, at the start (the controller mounts one per step
//! before any container starts). A step is done when its `out` exists and is not a directory;
//! an `out.err` ends the wait at once, because the steps after a failed one never run (they
//! report the failure through their own `out.err` without producing results).
//!
//! Upstream polls every `SIDECAR_LOG_POLLING_INTERVAL` and sleeps one more interval after the
//! last step, twice; here inotify on each run directory wakes the wait as soon as a post file
//! appears, and the interval is only the safety-net re-check (the wait works, more slowly,
//! where inotify is unavailable).

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Re-check interval when the configured one is zero or negative (upstream then spins).
const FALLBACK_INTERVAL: Duration = Duration::from_millis(100);

const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_CLOSE_WRITE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM;

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step wrote its `out`.
    AllDone,
    /// This `out.err` appeared: no later step will run.
    Failed(PathBuf),
}

/// Waits until every step under `run_dir` is done or one has failed. `interval` is the
/// safety-net re-check period.
pub fn for_steps(run_dir: &Path, interval: Duration) -> Result<Outcome, String> {
    let entries = std::fs::read_dir(run_dir)
        .and_then(|it| {
            it.map(|e| e.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()
        })
        .map_err(|e| {
            format!(
                "error reading the run directory: {}",
                gocompat::fs::path_error("open", run_dir, &e)
            )
        })?;
    let mut pending: Vec<PathBuf> = entries.iter().map(|d| d.join("out")).collect();
    pending.sort();
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok();
    if let Some(fd) = &inotify {
        for dir in &entries {
            // A directory that cannot be watched is still re-checked every interval.
            let _ = fd.add_watch(dir, AddWatchFlags::from_bits_retain(MASK));
        }
    }
    let interval = if interval.is_zero() {
        FALLBACK_INTERVAL
    } else {
        interval
    };
    loop {
        let mut still = Vec::with_capacity(pending.len());
        for out in pending {
            if is_file(&out)? {
                continue;
            }
            let err = err_file(&out);
            if is_file(&err)? {
                return Ok(Outcome::Failed(err));
            }
            still.push(out);
        }
        pending = still;
        if pending.is_empty() {
            return Ok(Outcome::AllDone);
        }
        sleep_or_event(inotify.as_ref(), interval);
    }
}

fn err_file(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".err");
    PathBuf::from(name)
}

/// Whether `path` exists as something other than a directory (symlinks followed).
fn is_file(path: &Path) -> Result<bool, String> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(!meta.is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!(
            "error checking for a post file: {}",
            gocompat::fs::path_error("stat", path, &e)
        )),
    }
}

/// Blocks until an inotify event or `interval`, then discards the queued events.
fn sleep_or_event(inotify: Option<&Inotify>, interval: Duration) {
    let Some(fd) = inotify else {
        std::thread::sleep(interval);
        return;
    };
    let ms = i32::try_from(interval.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, timeout);
    let mut buf = [0u8; 4096];
    while nix::unistd::read(fd, &mut buf).is_ok_and(|n| n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn done_steps_end_the_wait_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            std::fs::create_dir(dir.path().join(i.to_string())).unwrap();
            std::fs::write(dir.path().join(format!("{i}/out")), "").unwrap();
        }
        let start = Instant::now();
        let got = for_steps(dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(got, Outcome::AllDone);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn an_empty_run_dir_means_no_wait_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            for_steps(dir.path(), Duration::ZERO).unwrap(),
            Outcome::AllDone
        );
        let err = for_steps(&dir.path().join("none"), Duration::ZERO).unwrap_err();
        assert!(err.contains("no such file or directory"), "{err}");
    }

    #[test]
    fn a_post_file_wakes_the_wait_before_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("0")).unwrap();
        std::fs::create_dir(dir.path().join("1")).unwrap();
        std::fs::create_dir(dir.path().join("1/out")).unwrap(); // a directory is not a post file
        let d = dir.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(d.join("0/out"), "").unwrap();
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(d.join("1/out.err"), "").unwrap();
        });
        let start = Instant::now();
        let got = for_steps(dir.path(), Duration::from_secs(30)).unwrap();
        writer.join().unwrap();
        assert_eq!(got, Outcome::Failed(dir.path().join("1/out.err")));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}
