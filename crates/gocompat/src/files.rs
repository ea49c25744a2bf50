//! Files shared with other containers of the pod: written whole, read bounded.
//!
//! `/tekton/run`, `/tekton/results`, `/tekton/creds` and `/workspace` are volumes every step
//! sees. A reader must never see half a file, so writes go to a temporary file in the same
//! directory that is renamed over the destination; the temporary's name is random (never the
//! pid, which is 1 in every container) and created with `O_EXCL`, so two writers — or a name
//! planted by another step — cannot collide. Reads of files another container controls are
//! bounded, so a 10 GiB result or a symlink to `/dev/zero` is a one-line error, not an OOM, and
//! a FIFO cannot hang the reader. The stepkit binaries do all of this here, once.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bound on a result, step result, artifact or step-result substitution: no value can reach a
/// TaskRun beyond etcd's 1.5 MiB object limit (which also caps `max-result-size` and whatever a
/// compressed termination message would expand to).
pub const MAX_RESULT_BYTES: u64 = 1_572_864;
/// Bound on a credential secret key file: Kubernetes caps a whole Secret at 1 MiB.
pub const MAX_SECRET_BYTES: u64 = 1 << 20;
/// Bound on a config file of `$HOME` (`.gitconfig`, `.git-credentials`, `.ssh/config`,
/// `known_hosts`): a user's own files, so generous, but never unbounded.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Bound on a file that comes from the pod spec (a step script, a `.breakpointexit` code):
/// the pod object itself is under etcd's 1.5 MiB.
pub const MAX_POD_SPEC_BYTES: u64 = 1_572_864;

/// How the destination's mode is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Created with this mode, subject to the umask (Go's `os.WriteFile` / `os.Create`).
    Umask(u32),
    /// Exactly this mode, whatever the umask.
    Exact(u32),
}

/// 64 random bits from the kernel (`getrandom`), for names only: `O_EXCL` keeps creation safe
/// even if they repeat, so a failing `getrandom` falls back to the clock and a counter.
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: buf is 8 writable bytes.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    if got == 8 {
        return u64::from_ne_bytes(buf);
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed)
            .rotate_left(17)
}

/// Creates `<dir of path>/.<name of path>.<random>.tmp` exclusively (`O_CREAT|O_EXCL`, no
/// symlink followed) with `mode` (before the umask). The caller writes it and renames it over
/// `path` (or removes it).
pub fn create_temp_beside(path: &Path, mode: u32) -> io::Result<(File, PathBuf)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..16 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", random_u64()));
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        match opened {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Which step of [`write_whole`] failed, for the caller's Go-style error text.
#[derive(Debug)]
pub struct WriteError {
    /// `open` (creating the temporary), `write`, `sync`, `chmod` or `rename`.
    pub op: &'static str,
    pub err: io::Error,
}

impl WriteError {
    /// Go's `*PathError` text for `path`: `open /x: permission denied`.
    pub fn path_text(&self, path: impl AsRef<Path>) -> String {
        crate::fs::path_error(self.op, path, &self.err)
    }
}

/// Writes `data` to `path` whole: a unique temporary beside it, `fsync` when `sync`, then a
/// rename over `path` (a symlink at `path` is replaced, never followed). The temporary is
/// removed on failure.
pub fn write_whole(path: &Path, data: &[u8], mode: Mode, sync: bool) -> Result<(), WriteError> {
    let create_mode = match mode {
        Mode::Umask(m) | Mode::Exact(m) => m,
    };
    let fail = |op| move |err| WriteError { op, err };
    let (mut file, tmp) = create_temp_beside(path, create_mode).map_err(fail("open"))?;
    let result = (|| {
        if let Mode::Exact(m) = mode {
            file.set_permissions(std::fs::Permissions::from_mode(m))
                .map_err(fail("chmod"))?;
        }
        file.write_all(data).map_err(fail("write"))?;
        if sync {
            file.sync_all().map_err(fail("sync"))?;
        }
        std::fs::rename(&tmp, path).map_err(fail("rename"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why [`read_bounded`] failed.
#[derive(Debug)]
pub enum ReadError {
    /// The file does not exist (callers often treat this as "absent").
    NotFound,
    /// Opening or reading failed: the op (`open`/`read`) and the error.
    Io(&'static str, io::Error),
    /// Not a regular file (FIFO, device, socket, directory): refused without reading.
    NotRegular(&'static str),
    /// Larger than the limit.
    TooLarge { limit: u64 },
}

impl ReadError {
    /// One line naming `path`: Go's `*PathError` text for I/O errors, otherwise
    /// `read <path>: not a regular file (fifo)` / `read <path>: larger than <limit> bytes`.
    pub fn text(&self, path: impl AsRef<Path>) -> String {
        let path = path.as_ref();
        match self {
            ReadError::NotFound => {
                crate::fs::path_error("open", path, &io::Error::from_raw_os_error(libc::ENOENT))
            }
            ReadError::Io(op, e) => crate::fs::path_error(op, path, e),
            ReadError::NotRegular(kind) => {
                format!("read {}: not a regular file ({kind})", path.display())
            }
            ReadError::TooLarge { limit } => {
                format!("read {}: larger than {limit} bytes", path.display())
            }
        }
    }
}

/// What a file that is not regular is, for [`ReadError::NotRegular`]: `fifo`, `character
/// device`, `block device`, `socket` (or `special file`).
pub fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Reads `path` (following symlinks) if it is a regular file of at most `limit` bytes.
///
/// The open uses `O_NONBLOCK`, so a FIFO without a writer cannot block it; the type is checked
/// on the opened file, so a symlink to `/dev/zero` or a FIFO is refused unread; at most
/// `limit + 1` bytes are ever read, so a file that grows while being read is still bounded.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_opened_bounded(open_nonblocking(path)?, limit)
}

/// Opens for reading with `O_NONBLOCK`, so a FIFO without a writer cannot block the open.
fn open_nonblocking(path: &Path) -> Result<File, ReadError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io("open", e),
        })
}

/// [`read_bounded`] of an already opened file (for callers that open with their own flags,
/// e.g. `O_NOFOLLOW`).
pub fn read_opened_bounded(file: File, limit: u64) -> Result<Vec<u8>, ReadError> {
    match read_opened_prefix(file, limit, false)? {
        (data, false) => Ok(data),
        (_, true) => Err(ReadError::TooLarge { limit }),
    }
}

/// [`read_bounded`], except that a file over `limit` is not an error: its first `limit` bytes
/// come back with `true` (for a caller that reports an oversized file by showing its start).
pub fn read_prefix(path: &Path, limit: u64) -> Result<(Vec<u8>, bool), ReadError> {
    read_opened_prefix(open_nonblocking(path)?, limit, true)
}

/// `keep_prefix` false: a file whose size is already over `limit` is refused unread.
fn read_opened_prefix(
    file: File,
    limit: u64,
    keep_prefix: bool,
) -> Result<(Vec<u8>, bool), ReadError> {
    let meta = file.metadata().map_err(|e| ReadError::Io("read", e))?;
    if meta.is_dir() {
        // What Go's `os.ReadFile` reports, so upstream's texts stay: `read <path>: is a directory`.
        return Err(ReadError::Io(
            "read",
            io::Error::from_raw_os_error(libc::EISDIR),
        ));
    }
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind_of(meta.file_type())));
    }
    if !keep_prefix && meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut data = Vec::with_capacity(meta.len().min(limit.saturating_add(1)) as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| ReadError::Io("read", e))?;
    if data.len() as u64 > limit {
        data.truncate(limit as usize);
        return Ok((data, true));
    }
    Ok((data, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn write_whole_replaces_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("exitCode");
        write_whole(&p, b"1", Mode::Exact(0o600), false).unwrap();
        write_whole(&p, b"42", Mode::Exact(0o640), true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"42");
        assert_eq!(mode_of(&p), 0o640);
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary left behind");
    }

    #[test]
    fn write_whole_replaces_a_planted_symlink_without_following_it() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let p = d.path().join("result");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        write_whole(&p, b"new", Mode::Umask(0o666), false).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&p).unwrap().is_symlink());
    }

    #[test]
    fn temporaries_are_unique_even_in_one_process() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        let names: std::collections::HashSet<PathBuf> = (0..100)
            .map(|_| create_temp_beside(&p, 0o600).unwrap().1)
            .collect();
        assert_eq!(names.len(), 100);
        assert!(names.iter().all(|n| {
            let s = n.file_name().unwrap().to_string_lossy().into_owned();
            s.starts_with(".x.")
                && s.ends_with(".tmp")
                && !s.contains(&std::process::id().to_string())
        }));
    }

    #[test]
    fn write_error_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir/file");
        let e = write_whole(&p, b"x", Mode::Umask(0o666), false).unwrap_err();
        assert_eq!(
            e.path_text(&p),
            format!("open {}: no such file or directory", p.display())
        );
    }

    #[test]
    fn bounded_reads() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(read_bounded(&f, 3).unwrap(), b"abc");
        let e = read_bounded(&f, 2).unwrap_err();
        assert_eq!(
            e.text(&f),
            format!("read {}: larger than 2 bytes", f.display())
        );
        // A sparse 10 GiB file: refused from its size, nothing read.
        let sparse = d.path().join("sparse");
        File::create(&sparse).unwrap().set_len(10 << 30).unwrap();
        assert!(matches!(
            read_bounded(&sparse, 1 << 20),
            Err(ReadError::TooLarge { limit: 1048576 })
        ));
        // A symlink to /dev/zero: refused unread.
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read_bounded(&zero, 1 << 20).unwrap_err();
        assert_eq!(
            e.text(&zero),
            format!(
                "read {}: not a regular file (character device)",
                zero.display()
            )
        );
        // A FIFO nobody writes to: refused, without blocking.
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, 1 << 20).unwrap_err();
        assert_eq!(
            e.text(&fifo),
            format!("read {}: not a regular file (fifo)", fifo.display())
        );
        // A directory: Go's os.ReadFile text.
        assert_eq!(
            read_bounded(d.path(), 10).unwrap_err().text(d.path()),
            format!("read {}: is a directory", d.path().display())
        );
        assert!(matches!(
            read_bounded(&d.path().join("none"), 10),
            Err(ReadError::NotFound)
        ));
    }
}
