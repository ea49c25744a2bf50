//! File helpers: Go-style error texts, bounded secret reads, and writes that never follow a
//! symlink planted at the destination.
//!
//! Errors are plain strings in Go's `*PathError` shape (`open /p: no such file or directory`)
//! because they end up in flag errors and log lines that users compare with upstream. They only
//! ever name paths, never file contents.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Kubernetes caps a whole Secret at 1 MiB, so a bigger key file is not a real secret.
pub const MAX_SECRET_BYTES: u64 = 1 << 20;

/// Go's text for an OS error: the C library message with a lower-case first letter.
pub fn errno_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match (err.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_string(),
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// `op path: reason`, like Go's `*PathError`.
pub fn path_error(op: &str, path: &Path, err: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), errno_text(err))
}

/// Reads a secret key file (following the kubelet's `..data` symlinks), bounded in size.
pub fn read_secret_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| path_error("open", path, &e))?;
    let mut data = Vec::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| path_error("read", path, &e))?;
    if data.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "read {}: secret file is larger than {MAX_SECRET_BYTES} bytes",
            path.display()
        ));
    }
    Ok(data)
}

/// Whether `err` (from the readers above) rejects the content rather than failing to read it.
pub fn is_content_error(err: &str) -> bool {
    err.ends_with(": secret file is not valid UTF-8")
        || err.contains(": secret file is larger than ")
}

/// Like [`read_secret_bytes`], and the content must be UTF-8 (it is written into text files).
pub fn read_secret_text(path: &Path) -> Result<String, String> {
    let data = read_secret_bytes(path)?;
    String::from_utf8(data)
        .map_err(|_| format!("read {}: secret file is not valid UTF-8", path.display()))
}

/// Reads an existing regular file without following a symlink; a symlink or a missing file
/// reads as empty (it will be replaced, not written through).
pub fn read_own_file(path: &Path) -> Result<Vec<u8>, String> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
    match opened {
        Ok(mut f) => {
            let mut data = Vec::new();
            f.read_to_end(&mut data)
                .map_err(|e| path_error("read", path, &e))?;
            Ok(data)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(Vec::new()),
        Err(e) => Err(path_error("open", path, &e)),
    }
}

/// Writes `data` to `path` whole with mode 0600 (whatever the umask): a temporary file in the
/// same directory renamed over the destination, so a symlink planted at `path` is replaced,
/// never followed, and readers never see a partial file.
pub fn write_file_replace(path: &Path, data: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.stepkit-{}.tmp", std::process::id()));
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
    };
    let mut file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Left over from a killed run of this pid (or planted): drop it and retry once.
            let _ = fs::remove_file(&tmp);
            open()
        }
        other => other,
    }
    .map_err(|e| path_error("open", path, &e))?;
    let result = file
        .set_permissions(fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(data))
        .map_err(|e| path_error("write", path, &e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| path_error("open", path, &e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
