//! "Is the previous step's entrypoint still alive?" without any polling.
//!
//! Each entrypoint holds an exclusive `flock` on `<post_file>.lock` from start until its post
//! file is written (or it exits); the kernel drops it when the process dies, however it dies.
//! The file is created already locked
//! (an `O_TMPFILE` inode locked, then linked into place; else temp file, lock, rename) so a
//! successor can never lock it before its owner does. It is taken right after the flags and
//! configuration are checked, before the credential copies. A
//! successor that sees the lock file blocks on it in a tiny thread; getting the lock means the
//! predecessor has posted or exited, and if it left neither `out` nor `out.err` it died
//! mid-step. This is also the normal hand-off: the release right after the post file wakes the
//! successor with no inotify instance on either side (those are limited per uid on a node).
//! The lock file is opened read-only by successors (their view of `/tekton/run/<i>` is RO).
//!
//! The lock is a dot-file (`<dir>/.<name>.lock`) and is removed again at a normal exit once a
//! post file exists, so a finished pod's `/tekton` tree looks like upstream's. It stays behind
//! only when the entrypoint died or exited without a post file: exactly when a successor needs
//! it. A successor that already opened it keeps working on the unlinked inode.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, Flock, FlockArg};
use nix::unistd::{AccessFlags, access, linkat, unlink};

use crate::sys;

/// Suffix of the lock file next to a post file.
pub const LOCK_SUFFIX: &str = ".lock";
/// Stack of the lock-waiting thread: it only makes two syscalls.
const LOCK_THREAD_STACK: usize = 64 * 1024;

/// The lock file belonging to `post_file` (the successor's wait file): `<dir>/.<name>.lock`.
pub fn lock_path(post_file: &str) -> PathBuf {
    let p = Path::new(post_file);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = format!(".{name}{LOCK_SUFFIX}");
    match p.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(file),
        _ => PathBuf::from(file),
    }
}

/// What the exit hook needs: the lock and the two post files (C strings, no allocation late).
struct Cleanup {
    lock: CString,
    post: CString,
    post_err: CString,
}

static CLEANUP: std::sync::OnceLock<Cleanup> = std::sync::OnceLock::new();

extern "C" fn remove_lock_if_posted() {
    let Some(c) = CLEANUP.get() else { return };
    let exists = |p: &CString| access(p.as_c_str(), AccessFlags::F_OK).is_ok();
    if exists(&c.post) || exists(&c.post_err) {
        let _ = unlink(c.lock.as_c_str());
    }
}

/// Removes the lock file now, whether or not a post file exists: for exits the user or the
/// pod's deletion decided (breakpoint exit, termination signal while waiting).
pub fn remove_now() {
    if let Some(c) = CLEANUP.get() {
        let _ = unlink(c.lock.as_c_str());
    }
}

/// Removes the lock file at a normal process exit (`exit`, not death by signal) if a post
/// file was written by then.
pub fn remove_at_exit(post_file: &str) {
    let (Some(lock), Ok(post), Ok(post_err)) = (
        cpath(&lock_path(post_file)),
        CString::new(post_file),
        CString::new(format!("{post_file}.err")),
    ) else {
        return;
    };
    if CLEANUP
        .set(Cleanup {
            lock,
            post,
            post_err,
        })
        .is_ok()
    {
        sys::at_exit(remove_lock_if_posted);
    }
}

/// The held lock; released when dropped, when the process exits, or (once
/// [`HeldLock::release_when_posted`] was called) right after the post file is written.
#[derive(Debug)]
pub struct HeldLock {
    lock: Flock<File>,
}

/// The fd of this process's own liveness lock, for [`posted`]; -1 when none.
static OWN_LOCK_FD: AtomicI32 = AtomicI32::new(-1);

impl HeldLock {
    /// Makes [`posted`] release this lock: the successor blocks on it, so releasing it the
    /// moment the post file exists is the hand-off (no inotify needed on either side). The
    /// lock must outlive every post-file write (the lifecycle keeps it until exit).
    pub fn release_when_posted(&self) {
        OWN_LOCK_FD.store(self.lock.as_raw_fd(), Ordering::SeqCst);
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // The fd closes now: `posted` must never unlock whatever reuses its number.
        let fd = self.lock.as_raw_fd();
        let _ = OWN_LOCK_FD.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// A post file (`out` or `out.err`) was written: wake the successor by releasing the lock.
/// Its file stays until exit (see [`remove_at_exit`]); a successor that locks it from now on
/// finds the post file and goes on.
pub fn posted() {
    let fd = OWN_LOCK_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        sys::unlock(fd);
    }
}

fn cpath(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}

/// Creates `<post_file>.lock` already locked. Errors are returned for logging; the step runs
/// regardless (successors then simply wait like upstream).
///
/// The lock is taken on a file that has no name yet, which then gets its name in one step, so a
/// successor never finds the lock file unlocked: an `O_TMPFILE` inode linked into place (a kill
/// before the link leaves nothing behind), or, where the filesystem has no `O_TMPFILE` or the
/// name is taken (a planted file), a unique temporary renamed over it.
pub fn hold(post_file: &str) -> Result<HeldLock, String> {
    let final_path = lock_path(post_file);
    // No mkdir: the run directory is a volume in a pod; without it there is no lock at all.
    if let Some(held) = hold_anonymous(&final_path) {
        return Ok(held);
    }
    let (file, tmp) = gocompat::files::create_temp_beside(&final_path, 0o644)
        .map_err(|e| gocompat::fs::path_error("open", &final_path, &e))?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, errno)) => {
            let e = std::io::Error::from_raw_os_error(errno as i32);
            let _ = std::fs::remove_file(&tmp);
            return Err(gocompat::fs::path_error("flock", &tmp, &e));
        }
    };
    if let Err(e) = std::fs::rename(&tmp, &final_path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(gocompat::fs::path_error("rename", &final_path, &e));
    }
    Ok(HeldLock { lock })
}

/// The `O_TMPFILE` way of [`hold`]; `None` if any part of it is not possible here.
fn hold_anonymous(final_path: &Path) -> Option<HeldLock> {
    let dir = match final_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o644)
        .open(dir)
        .ok()?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()?;
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc path works for anyone.
    let proc_path = format!("/proc/self/fd/{}", lock.as_raw_fd());
    linkat(
        AT_FDCWD,
        proc_path.as_str(),
        AT_FDCWD,
        final_path,
        AtFlags::AT_SYMLINK_FOLLOW,
    )
    .ok()?;
    Some(HeldLock { lock })
}

/// Starts a thread that blocks until it gets the lock at `lock_file`; the returned fd becomes
/// readable at that moment. `Ok(None)` if the file cannot be opened (yet) or no thread can be
/// started (then the wait degrades to upstream's behaviour). `Err` (the line to log) if the
/// path is not a regular file: a FIFO, device or symlink planted there is never waited on.
/// The open cannot block (`O_NONBLOCK`: a FIFO opens at once) and follows no symlink.
pub fn spawn_lock_waiter(lock_file: &Path) -> Result<Option<OwnedFd>, String> {
    let refused = |why: &str| {
        format!(
            "Not watching the previous step's liveness lock {}: {why}",
            lock_file.display()
        )
    };
    let lock = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(lock_file)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refused("it is a symbolic link"));
        }
        Err(_) => return Ok(None),
    };
    match lock.metadata() {
        Ok(m) if m.file_type().is_file() => {}
        Ok(_) => return Err(refused("not a regular file")),
        Err(_) => return Ok(None),
    }
    let Ok((read_end, write_end)) = crate::run::pipe() else {
        return Ok(None);
    };
    let spawned = std::thread::Builder::new()
        .name("predecessor-lock".into())
        .stack_size(LOCK_THREAD_STACK)
        .spawn(move || {
            let mut lock = lock;
            loop {
                match Flock::lock(lock, FlockArg::LockExclusive) {
                    Ok(held) => {
                        let _ = nix::unistd::write(&write_end, b"x");
                        // Keep holding the predecessor's lock: nothing else needs it.
                        std::mem::forget(held);
                        return;
                    }
                    Err((again, Errno::EINTR)) => lock = again,
                    Err(_) => {
                        // Cannot tell; never report the predecessor as gone.
                        std::mem::forget(write_end);
                        return;
                    }
                }
            }
        });
    Ok(spawned.ok().map(|_| read_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_lock(f: &File) -> bool {
        let f = f.try_clone().unwrap();
        Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok()
    }

    #[test]
    fn a_fifo_as_lock_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join(".out.lock");
        nix::unistd::mkfifo(&lock, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lock2 = lock.clone();
        // In a thread: a blocking open would never return.
        std::thread::spawn(move || {
            let _ = tx.send(spawn_lock_waiter(&lock2).map(|fd| fd.is_some()));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening a FIFO lock blocked");
        assert_eq!(
            got,
            Err(format!(
                "Not watching the previous step's liveness lock {}: not a regular file",
                lock.display()
            ))
        );
        let link = d.path().join(".link.lock");
        std::os::unix::fs::symlink(&lock, &link).unwrap();
        assert_eq!(
            spawn_lock_waiter(&link).map(|fd| fd.is_some()),
            Err(format!(
                "Not watching the previous step's liveness lock {}: it is a symbolic link",
                link.display()
            ))
        );
    }

    #[test]
    fn a_file_already_at_the_lock_path_is_replaced_by_a_held_lock() {
        let d = tempfile::tempdir().unwrap();
        let post = d.path().join("out").to_string_lossy().into_owned();
        let lock = lock_path(&post);
        std::fs::write(&lock, "stale").unwrap();
        let _held = hold(&post).unwrap();
        let f = std::fs::File::open(&lock).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 0);
        assert!(!can_lock(&f));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn lock_names() {
        assert_eq!(
            lock_path("/tekton/run/0/out"),
            Path::new("/tekton/run/0/.out.lock")
        );
        assert_eq!(lock_path("out"), Path::new(".out.lock"));
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("run/0")).unwrap();
        let post = d.path().join("run/0/out").to_string_lossy().into_owned();
        let held = hold(&post).unwrap();
        let lock = lock_path(&post);
        assert!(lock.exists());
        let f = std::fs::File::open(&lock).unwrap();
        assert!(!can_lock(&f));
        drop(held);
        assert!(can_lock(&f));
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(d.path().join("run/0"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(".out.lock")]);
    }
}
