//! Go-style file-system helpers shared by the helpers that must print Go's error texts:
//! `*os.PathError` messages (`open x: no such file or directory`), `filepath.Clean`,
//! `filepath.Join` and `os.MkdirAll`.
//!
//! Rust's `io::Error` prints `No such file or directory (os error 2)`; upstream logs print
//! Go's lower-case errno table, so every user-visible message is built here.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Go's `syscall.Errno.Error()` text for an errno. Go's Linux table is glibc's `strerror` with
/// a lower-case first letter (checked against Go for 1..140: two exceptions), and `errno N` outside it.
/// Rust never calls `setlocale`, so the text is the C locale's whatever `LANG` says.
pub fn errno_text(errno: i32) -> String {
    match errno {
        73 => "RFS specific error".to_string(),
        ..=0 | 133.. => format!("errno {errno}"),
        _ => lower_first(&io::Error::from_raw_os_error(errno).to_string())
            .filter(|t| !t.starts_with("unknown error"))
            .unwrap_or_else(|| format!("errno {errno}")),
    }
}

/// `text` without Rust's ` (os error N)` suffix, first letter lower-cased (`None` if empty).
fn lower_first(text: &str) -> Option<String> {
    let text = text.split(" (os error ").next().unwrap_or(text);
    let mut chars = text.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

/// The Go text of an `io::Error`: the errno's when it carries one, else its own text with a
/// lower-case first letter.
pub fn io_error_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => errno_text(errno),
        None => lower_first(&err.to_string()).unwrap_or_default(),
    }
}

/// Go's `*os.PathError` message: `<op> <path>: <errno text>`.
pub fn path_error(op: &str, path: impl AsRef<Path>, err: &io::Error) -> String {
    format!("{op} {}: {}", path.as_ref().display(), io_error_text(err))
}

/// Go's `filepath.Clean` for Unix paths (lexical; `""` becomes `.`).
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join`: non-empty elements joined with `/`, then cleaned (`""` if all empty).
pub fn join(elems: &[&str]) -> String {
    let kept: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if kept.is_empty() {
        return String::new();
    }
    clean(&kept.join("/"))
}

/// Go's `os.MkdirAll(path, mode)`; the error is Go's `*PathError` text
/// (`mkdir <component>: <errno text>`) naming the component that failed.
pub fn mkdir_all(path: &str, mode: u32) -> Result<(), String> {
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_dir() {
            return Ok(());
        }
        return Err(format!("mkdir {path}: {}", errno_text(ENOTDIR)));
    }
    let bytes = path.as_bytes();
    let mut i = bytes.len();
    while i > 0 && bytes[i - 1] == b'/' {
        i -= 1;
    }
    let mut j = i;
    while j > 0 && bytes[j - 1] != b'/' {
        j -= 1;
    }
    if j > 1 {
        mkdir_all(&path[..j - 1], mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(err) => {
            // Lost a race with another creator, or the path is an existing directory symlink.
            if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                return Ok(());
            }
            Err(path_error("mkdir", path, &err))
        }
    }
}

const ENOTDIR: i32 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("/workspace/", "/workspace"),
            ("/workspace/foobar", "/workspace/foobar"),
            ("/foo//bar", "/foo/bar"),
            ("./foo/bar", "foo/bar"),
            ("foo/bar", "foo/bar"),
            ("..", ".."),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("a/../../b/./c/", "../b/c"),
            ("/../a", "/a"),
            ("/..", "/"),
            ("//", "/"),
            (".", "."),
            ("./", "."),
            ("a/..", "."),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn join_matches_go() {
        assert_eq!(join(&["/tekton/steps", "step-a"]), "/tekton/steps/step-a");
        assert_eq!(join(&["/tekton/steps", ""]), "/tekton/steps");
        assert_eq!(join(&["/tekton/steps", "../x"]), "/tekton/x");
        assert_eq!(join(&["", ""]), "");
    }

    #[test]
    fn error_texts() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(
            path_error("open", "/x", &err),
            "open /x: no such file or directory"
        );
        assert_eq!(errno_text(13), "permission denied");
        assert_eq!(errno_text(11), "resource temporarily unavailable");
        assert_eq!(errno_text(34), "numerical result out of range");
        assert_eq!(errno_text(73), "RFS specific error");
        assert_eq!(errno_text(133), "errno 133");
        assert_eq!(errno_text(200), "errno 200");
        assert_eq!(errno_text(0), "errno 0");
        let custom = io::Error::other("Bad thing");
        assert_eq!(io_error_text(&custom), "bad thing");
    }

    #[test]
    fn mkdir_all_creates_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/c");
        let target = target.to_str().unwrap();
        mkdir_all(target, 0o755).unwrap();
        assert!(Path::new(target).is_dir());
        mkdir_all(target, 0o755).unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        let under_file = format!("{}/sub", file.display());
        // Go names the first component that is not a directory.
        assert_eq!(
            mkdir_all(&under_file, 0o755).unwrap_err(),
            format!("mkdir {}: not a directory", file.display())
        );
        assert_eq!(
            mkdir_all(file.to_str().unwrap(), 0o755).unwrap_err(),
            format!("mkdir {}: not a directory", file.display())
        );
    }
}
