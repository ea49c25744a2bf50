//! Post files and the `exitCode` file (docs/contract.md §3.9).
//!
//! Post files are empty, created with `O_TRUNC`; the `exitCode` file is written whole through a
//! unique temporary (`gocompat::files`); both mode 0666 before umask, parents 0777. A failure here
//! is fatal (exit 1) like upstream's `log.Fatalf`, because the next step could otherwise wait
//! for a file that never comes.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use gocompat::{files, fs as gofs};

/// Suffix of the failure post file.
pub const ERR_SUFFIX: &str = ".err";

/// Go's `filepath.Dir`.
pub fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => gofs::clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Writes `content` to `path` (no-op for an empty path); the error is upstream's log text.
pub fn try_write(path: &str, content: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    gofs::mkdir_all(&go_dir(path), 0o777).map_err(|e| {
        format!(
            "Error creating parent directory of {}: {e}",
            goflag::go_quote(path)
        )
    })?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)
        .map_err(|e| {
            format!(
                "Creating {}: {}",
                goflag::go_quote(path),
                gofs::path_error("open", path, &e)
            )
        })?;
    if !content.is_empty() {
        f.write_all(content.as_bytes()).map_err(|e| {
            format!(
                "Writing {}: {}",
                goflag::go_quote(path),
                gofs::path_error("write", path, &e)
            )
        })?;
    }
    Ok(())
}

/// [`try_write`], exiting 1 on failure.
pub fn write(path: &str, content: &str) {
    if let Err(msg) = try_write(path, content) {
        golog::fatal(&msg);
    }
}

/// `<post_file>` on success, `<post_file>.err` on failure; nothing when `post_file` is empty.
pub fn write_post_file(post_file: &str, failed: bool) {
    if post_file.is_empty() {
        return;
    }
    if failed {
        write(&format!("{post_file}{ERR_SUFFIX}"), "");
    } else {
        write(post_file, "");
    }
    crate::liveness::posted();
}

/// `<step_metadata_dir>/exitCode` (`./exitCode` when the directory flag is empty).
pub fn exit_code_path(step_metadata_dir: &str) -> String {
    gofs::join(&[step_metadata_dir, "exitCode"])
}

/// Writes the `exitCode` file whole (a successor reading it never sees it empty), mode 0666
/// before the umask like upstream's `os.Create`; the error is upstream's log text.
pub fn try_write_exit_code(step_metadata_dir: &str, content: &str) -> Result<(), String> {
    let path = exit_code_path(step_metadata_dir);
    gofs::mkdir_all(&go_dir(&path), 0o777).map_err(|e| {
        format!(
            "Error creating parent directory of {}: {e}",
            goflag::go_quote(&path)
        )
    })?;
    files::write_whole(
        std::path::Path::new(&path),
        content.as_bytes(),
        files::Mode::Umask(0o666),
        false,
    )
    .map_err(|e| {
        let verb = if e.op == "open" {
            "Creating"
        } else {
            "Writing"
        };
        format!("{verb} {}: {}", goflag::go_quote(&path), e.path_text(&path))
    })
}

/// Ends the step on disk: the `exitCode` file (when there is one) and then the post file.
///
/// Upstream writes them the other way round; with a successor woken within a millisecond of the
/// post file, it could read `$(steps.<x>.exitCode.path)` before it exists. If the `exitCode`
/// write fails, the post file is still written before the fatal exit, so the successor is
/// released exactly as upstream leaves it.
pub fn write_outcome(
    post_file: &str,
    failed: bool,
    step_metadata_dir: &str,
    exit_code: Option<&str>,
) {
    if let Some(code) = exit_code
        && let Err(msg) = try_write_exit_code(step_metadata_dir, code)
    {
        write_post_file(post_file, failed);
        golog::fatal(&msg);
    }
    write_post_file(post_file, failed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_content_and_empty_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b/exitCode").to_string_lossy().into_owned();
        try_write(&f, "42").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "42");
        try_write(&f, "0").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "0");
        let e = d.path().join("new/sub/out").to_string_lossy().into_owned();
        try_write(&e, "").unwrap();
        assert_eq!(std::fs::metadata(&e).unwrap().len(), 0);
        assert_eq!(try_write("", "x"), Ok(()));
    }

    fn current_umask() -> u32 {
        use nix::sys::stat::{Mode, umask};
        let mask = umask(Mode::empty());
        umask(mask);
        mask.bits()
    }

    #[test]
    fn mode_is_0666_before_umask() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out").to_string_lossy().into_owned();
        try_write(&f, "").unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !current_umask());
    }

    #[test]
    fn exit_code_is_written_whole_with_upstreams_mode() {
        let d = tempfile::tempdir().unwrap();
        let metadata_dir = d.path().join("status").to_string_lossy().into_owned();
        try_write_exit_code(&metadata_dir, "1").unwrap();
        try_write_exit_code(&metadata_dir, "-1").unwrap();
        let f = d.path().join("status/exitCode");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "-1");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !current_umask());
        let names: Vec<_> = std::fs::read_dir(d.path().join("status"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1, "no temporary left");
    }

    #[test]
    fn error_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("file"), "").unwrap();
        let f = d.path().join("file/out").to_string_lossy().into_owned();
        let err = try_write(&f, "").unwrap_err();
        assert!(
            err.starts_with("Error creating parent directory of \""),
            "{err}"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(exit_code_path(""), "exitCode");
        assert_eq!(
            exit_code_path("/tekton/run/0/status/"),
            "/tekton/run/0/status/exitCode"
        );
        assert_eq!(go_dir("/a/b/out"), "/a/b");
        assert_eq!(go_dir("out"), ".");
        assert_eq!(go_dir("/out"), "/");
    }
}
