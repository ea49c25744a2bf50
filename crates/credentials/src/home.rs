//! CopyCredsToHome: `/tekton/creds/{.docker,.gitconfig,.git-credentials,.ssh}` → `$HOME`.
//!
//! Upstream's semantics (directories 0700, files 0600 opened `O_TRUNC`, missing sources
//! skipped, one `warning: unsuccessful cred copy: …` line per failed item, never fatal), plus
//! two improvements:
//! * a symlink planted at a destination is replaced, never written through;
//! * when `$HOME` is unset, cannot be created or is not writable (non-root steps with a
//!   read-only or foreign home), one warning names the cause and the step gets environment
//!   variables that make docker, git and ssh use the files in place in `/tekton/creds`
//!   (`DOCKER_CONFIG`, `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_COUNT/KEY/VALUE` for the credential
//!   store, `GIT_SSH_COMMAND`). The same variables cover single items whose copy failed.

use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use goflag::go_quote;
use stepkit_layout::Layout;

use crate::fsutil::{self, path_error};

/// What upstream copies, in its order.
pub const CREDS_ITEMS: [&str; 4] = [".docker", ".gitconfig", ".git-credentials", ".ssh"];

/// Copies the credentials of `layout.creds_dir()` to `$HOME`, logging like upstream (Go `log`
/// lines on stderr). Returns the variables the step should additionally get (each only if the
/// step does not set it already).
pub fn copy_to_home(layout: &Layout) -> Vec<(String, String)> {
    let home = std::env::var_os("HOME");
    let git_config_count_set = std::env::var_os("GIT_CONFIG_COUNT").is_some();
    copy_creds_to_home(
        &layout.creds_dir(),
        home.as_deref(),
        Some(git_config_count_set),
        &mut |line| golog::log(line),
    )
}

/// [`copy_to_home`] with its inputs explicit: `home` is `$HOME`; `fallback` is `None` when no
/// process will receive fallback variables (nothing is returned or announced), else whether the
/// step already uses `GIT_CONFIG_COUNT`; `log` gets each log message.
pub fn copy_creds_to_home(
    creds: &Path,
    home: Option<&OsStr>,
    fallback: Option<bool>,
    log: &mut dyn FnMut(&str),
) -> Vec<(String, String)> {
    if !fs::metadata(creds).map(|m| m.is_dir()).unwrap_or(false) {
        return Vec::new();
    }
    let env_for = |items: &[&str]| match fallback {
        Some(git_config_count_set) => fallback_env(creds, items, git_config_count_set),
        None => Vec::new(),
    };
    let present: Vec<&str> = CREDS_ITEMS
        .iter()
        .copied()
        .filter(|item| fs::symlink_metadata(creds.join(item)).is_ok())
        .collect();
    let creds_q = go_quote(&creds.display().to_string());

    let Some(home) = home.filter(|h| !h.is_empty()).map(PathBuf::from) else {
        let env = env_for(&present);
        log(&format!(
            "non-fatal error copying credentials: {}{}",
            go_quote("error getting the user's home directory: $HOME is not defined"),
            fallback_note(&creds_q, &env)
        ));
        return env;
    };
    if present.is_empty() {
        return Vec::new();
    }
    // HOME=/tekton/creds (the ≤v0.13 init-container setup): the files are already there, and
    // copying a file onto itself with O_TRUNC would empty it.
    if let (Ok(a), Ok(b)) = (fs::canonicalize(&home), fs::canonicalize(creds))
        && a == b
    {
        return Vec::new();
    }
    let home_q = go_quote(&home.display().to_string());

    if let Err(cause) = usable_home(&home) {
        let env = env_for(&present);
        let items: Vec<String> = present.iter().map(|i| go_quote(i)).collect();
        log(&format!(
            "warning: unsuccessful cred copy: {} from {creds_q} to {home_q}: {cause}{}",
            items.join(", "),
            fallback_note(&creds_q, &env)
        ));
        return env;
    }

    let mut failed = Vec::new();
    for item in present {
        if let Err(err) = try_copy_cred(&creds.join(item), &home.join(item)) {
            log(&format!(
                "warning: unsuccessful cred copy: {} from {creds_q} to {home_q}: {err}",
                go_quote(item)
            ));
            failed.push(item);
        }
    }
    env_for(&failed)
}

fn fallback_note(creds_q: &str, env: &[(String, String)]) -> String {
    if env.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.starts_with("GIT_CONFIG_KEY_") && !k.starts_with("GIT_CONFIG_VALUE_"))
        .collect();
    format!(
        "; the step uses them in place from {creds_q} (via {})",
        names.join(", ")
    )
}

/// `$HOME` must exist (it is created, 0700, like upstream's MkdirAll would) and be writable.
fn usable_home(home: &Path) -> Result<(), String> {
    let created = fsutil::mkdir_all(home, 0o700)?;
    for dir in created {
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
    }
    let c = CString::new(home.as_os_str().as_bytes())
        .map_err(|_| format!("$HOME {} contains a NUL byte", home.display()))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        return Err(format!(
            "$HOME is not writable: {}",
            path_error("access", home, &err)
        ));
    }
    Ok(())
}

/// Single-quotes `s` for the shell when it has anything beyond plain path characters.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'=')
        })
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Variables that make the tools read `items` from `creds` instead of `$HOME`.
fn fallback_env(creds: &Path, items: &[&str], git_config_count_set: bool) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let is_file = |p: &Path| fs::metadata(p).map(|m| m.is_file()).unwrap_or(false);
    for item in items {
        match *item {
            ".docker" if is_file(&creds.join(".docker/config.json")) => {
                env.push((
                    "DOCKER_CONFIG".into(),
                    creds.join(".docker").display().to_string(),
                ));
            }
            ".gitconfig" if is_file(&creds.join(".gitconfig")) => {
                env.push((
                    "GIT_CONFIG_GLOBAL".into(),
                    creds.join(".gitconfig").display().to_string(),
                ));
            }
            // `helper = store` reads ~/.git-credentials: reset the helper list and use the
            // store with an explicit file (env-only, so .gitconfig keeps upstream's bytes).
            ".git-credentials"
                if !git_config_count_set && is_file(&creds.join(".git-credentials")) =>
            {
                let file = creds.join(".git-credentials").display().to_string();
                env.extend([
                    ("GIT_CONFIG_COUNT".into(), "2".into()),
                    ("GIT_CONFIG_KEY_0".into(), "credential.helper".into()),
                    ("GIT_CONFIG_VALUE_0".into(), String::new()),
                    ("GIT_CONFIG_KEY_1".into(), "credential.helper".into()),
                    (
                        "GIT_CONFIG_VALUE_1".into(),
                        format!("store --file={}", shell_quote(&file)),
                    ),
                ]);
            }
            ".ssh" if is_file(&creds.join(".ssh/config")) => {
                let mut cmd = format!(
                    "ssh -F {}",
                    shell_quote(&creds.join(".ssh/config").display().to_string())
                );
                let known_hosts = creds.join(".ssh/known_hosts");
                if is_file(&known_hosts) {
                    cmd.push_str(&format!(
                        " -o UserKnownHostsFile={}",
                        shell_quote(&known_hosts.display().to_string())
                    ));
                }
                env.push(("GIT_SSH_COMMAND".into(), cmd));
            }
            _ => {}
        }
    }
    env
}

/// Opens a destination file for the copy: created 0600 (exactly), or an existing regular file
/// truncated in place (its mode kept, like upstream); a symlink there is replaced.
fn open_destination(dst: &Path) -> io::Result<File> {
    let create = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dst)
    };
    match create() {
        Ok(f) => {
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            return Ok(f);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let existing = OpenOptions::new()
        .read(true)
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dst);
    match existing {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            fs::remove_file(dst)?;
            let f = create()?;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            Ok(f)
        }
        other => other,
    }
}

/// Upstream's `tryCopyCred`: recursive copy; a missing source is not an error; the first
/// failing child aborts the rest of its directory.
pub(crate) fn try_copy_cred(src: &Path, dst: &Path) -> Result<(), String> {
    let info = match fs::symlink_metadata(src) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "unable to read source file info: {}",
                path_error("lstat", src, &e)
            ));
        }
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(src);
    let from = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "unable to open source: {}",
                path_error("open", src, &e)
            ));
        }
    };
    if info.is_dir() {
        let created = fsutil::ensure_real_dir(dst, 0o700)
            .map_err(|e| format!("unable to create destination directory: {e}"))?;
        for dir in created {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        }
        let names = fs::read_dir(src)
            .and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(|e| {
                format!(
                    "unable to read subdirectories of source: {}",
                    path_error("readdirent", src, &e)
                )
            })?;
        for name in names {
            try_copy_cred(&src.join(&name), &dst.join(&name))?;
        }
        return Ok(());
    }
    // Read first, bounded: a FIFO, a device or an oversized file planted in the shared creds
    // directory is refused before the destination is touched.
    let data =
        gocompat::files::read_opened_bounded(from, fsutil::MAX_OWN_FILE_BYTES).map_err(|e| {
            let text = match e {
                gocompat::files::ReadError::Io(op, err) => path_error(op, src, &err),
                other => other.text(src),
            };
            format!("error copying from source to destination: {text}")
        })?;
    let mut to = open_destination(dst).map_err(|e| {
        format!(
            "unable to open destination: {}",
            path_error("open", dst, &e)
        )
    })?;
    to.write_all(&data).map_err(|e| {
        format!(
            "error copying from source to destination: {}",
            path_error("write", dst, &e)
        )
    })
}
