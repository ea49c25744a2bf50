//! File helpers: Go-style error texts, bounded secret reads, and writes that never follow a
//! symlink planted at the destination.
//!
//! Errors are plain strings in Go's `*PathError` shape (`open /p: no such file or directory`)
//! because they end up in flag errors and log lines that users compare with upstream. They only
//! ever name paths, never file contents.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use gocompat::files;

/// Kubernetes caps a whole Secret at 1 MiB, so a bigger key file is not a real secret.
pub const MAX_SECRET_BYTES: u64 = files::MAX_SECRET_BYTES;

pub use gocompat::fs::path_error;

/// Reads a secret key file (following the kubelet's `..data` symlinks): a regular file of at
/// most [`MAX_SECRET_BYTES`] (a FIFO or device there is refused unread).
pub fn read_secret_bytes(path: &Path) -> Result<Vec<u8>, String> {
    files::read_bounded(path, MAX_SECRET_BYTES).map_err(|e| secret_read_error(path, &e))
}

fn secret_read_error(path: &Path, e: &files::ReadError) -> String {
    match e {
        files::ReadError::NotFound => {
            path_error("open", path, &io::Error::from_raw_os_error(libc::ENOENT))
        }
        files::ReadError::Io(op, err) => path_error(op, path, err),
        files::ReadError::NotRegular(kind) => format!(
            "read {}: secret file is not a regular file ({kind})",
            path.display()
        ),
        files::ReadError::TooLarge { limit } => format!(
            "read {}: secret file is larger than {limit} bytes",
            path.display()
        ),
    }
}

/// Whether `err` (from the readers above) rejects the content rather than failing to read it.
pub fn is_content_error(err: &str) -> bool {
    err.ends_with(": secret file is not valid UTF-8")
        || err.contains(": secret file is larger than ")
        || err.contains(": secret file is not a regular file ")
}

/// Like [`read_secret_bytes`], and the content must be UTF-8 (it is written into text files).
pub fn read_secret_text(path: &Path) -> Result<String, String> {
    let data = read_secret_bytes(path)?;
    String::from_utf8(data)
        .map_err(|_| format!("read {}: secret file is not valid UTF-8", path.display()))
}

/// Bound on a file of `$HOME` that is extended, not replaced (`.gitconfig`).
pub const MAX_OWN_FILE_BYTES: u64 = files::MAX_CONFIG_BYTES;

/// Reads an existing regular file (at most [`MAX_OWN_FILE_BYTES`]) without following a
/// symlink; a symlink or a missing file reads as empty (it will be replaced, not written
/// through).
pub fn read_own_file(path: &Path) -> Result<Vec<u8>, String> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    match opened {
        Ok(f) => files::read_opened_bounded(f, MAX_OWN_FILE_BYTES).map_err(|e| match e {
            files::ReadError::Io(op, err) => path_error(op, path, &err),
            other => other.text(path),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(Vec::new()),
        Err(e) => Err(path_error("open", path, &e)),
    }
}

/// Writes `data` to `path` whole with mode 0600 (whatever the umask): a unique temporary file
/// in the same directory renamed over the destination, so a symlink planted at `path` is
/// replaced, never followed, and readers never see a partial file.
pub fn write_file_replace(path: &Path, data: &[u8]) -> Result<(), String> {
    files::write_whole(path, data, files::Mode::Exact(0o600), false)
        .map_err(|e| path_error(e.op, path, &e.err))
}

/// Go's `os.MkdirAll(path, mode)` (subject to the umask, existing directories untouched,
/// following symlinks on the way), with Go's error texts. Returns the directories it created,
/// outermost first.
pub fn mkdir_all(path: &Path, mode: u32) -> Result<Vec<std::path::PathBuf>, String> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Ok(Vec::new()),
        Ok(_) => {
            return Err(path_error(
                "mkdir",
                path,
                &io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        Err(_) => {}
    }
    let mut created = Vec::new();
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        created = mkdir_all(parent, mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => created.push(path.to_path_buf()),
        Err(e) => {
            // Lost a race with another creator: fine if it is a directory now.
            if !fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
                return Err(path_error("mkdir", path, &e));
            }
        }
    }
    Ok(created)
}

/// Makes sure `path` itself is a real directory: a symlink planted there is removed first
/// (never followed), then [`mkdir_all`]. Returns the directories created.
pub fn ensure_real_dir(path: &Path, mode: u32) -> Result<Vec<std::path::PathBuf>, String> {
    if let Ok(m) = fs::symlink_metadata(path)
        && m.file_type().is_symlink()
    {
        fs::remove_file(path).map_err(|e| path_error("remove", path, &e))?;
    }
    mkdir_all(path, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn hostile_secret_files_are_refused_unread() {
        let d = tempfile::tempdir().unwrap();
        let zero = d.path().join("password");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(
            read_secret_text(&zero).unwrap_err(),
            format!(
                "read {}: secret file is not a regular file (character device)",
                zero.display()
            )
        );
        let sparse = d.path().join("username");
        fs::File::create(&sparse)
            .unwrap()
            .set_len(10 << 30)
            .unwrap();
        assert_eq!(
            read_secret_text(&sparse).unwrap_err(),
            format!(
                "read {}: secret file is larger than 1048576 bytes",
                sparse.display()
            )
        );
        let fifo = d.path().join("known_hosts");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_secret_text(&fifo).unwrap_err();
        assert!(is_content_error(&e), "{e}");
        assert!(
            e.ends_with("secret file is not a regular file (fifo)"),
            "{e}"
        );
        // `.gitconfig` in $HOME, extended in place: a FIFO is an error, not a hang.
        let gitconfig = d.path().join(".gitconfig");
        let c = std::ffi::CString::new(gitconfig.to_str().unwrap()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_own_file(&gitconfig).unwrap_err(),
            format!("read {}: not a regular file (fifo)", gitconfig.display())
        );
    }

    #[test]
    fn go_error_texts() {
        let e = read_secret_bytes(Path::new("/nonexistent/x/username")).unwrap_err();
        assert_eq!(e, "open /nonexistent/x/username: no such file or directory");
        let d = tempfile::tempdir().unwrap();
        let e = read_secret_bytes(d.path()).unwrap_err();
        assert_eq!(e, format!("read {}: is a directory", d.path().display()));
    }

    #[test]
    fn size_and_utf8_limits() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        fs::write(&big, vec![b'a'; MAX_SECRET_BYTES as usize + 1]).unwrap();
        assert!(read_secret_bytes(&big).unwrap_err().contains("larger than"));
        let bin = d.path().join("bin");
        fs::write(&bin, b"\xff\xfe").unwrap();
        assert!(
            read_secret_text(&bin)
                .unwrap_err()
                .contains("not valid UTF-8")
        );
    }

    #[test]
    fn replace_does_not_follow_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let dst = d.path().join("dst");
        std::os::unix::fs::symlink(&victim, &dst).unwrap();
        write_file_replace(&dst, b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&dst).unwrap(), "new");
        let m = fs::symlink_metadata(&dst).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
    }

    #[test]
    fn mkdir_all_errors() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        fs::write(&f, "").unwrap();
        assert_eq!(
            mkdir_all(&f.join("sub"), 0o700).unwrap_err(),
            format!("mkdir {}: not a directory", f.display())
        );
        let created = mkdir_all(&d.path().join("a/b"), 0o700).unwrap();
        assert_eq!(created.len(), 2);
    }
}
