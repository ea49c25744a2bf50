//! The user's home directory and upstream's SSH sanity warnings.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use crate::flavour::Flavour;
use crate::zap::{Logger, callers};

/// go-homedir's answer: `$HOME` if non-empty, else the passwd entry of the current uid.
/// `None` when neither exists (uid without passwd entry and no `$HOME`).
pub fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    passwd_home()
}

/// The home directory of the current uid in the passwd database.
pub fn passwd_home() -> Option<PathBuf> {
    // SAFETY: getpwuid_r writes into the buffers we own; the result pointer is checked.
    unsafe {
        let uid = libc::geteuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        let dir = CStr::from_ptr(pwd.pw_dir).to_string_lossy().into_owned();
        if dir.is_empty() {
            None
        } else {
            Some(PathBuf::from(dir))
        }
    }
}

/// The directory whose `.ssh` holds keys, config and `known_hosts`: `$HOME` (where Tekton and
/// the catalog Task put credentials), falling back to the passwd home, then `/`.
pub fn ssh_home() -> PathBuf {
    home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

/// The catalog's loose SSH-URL test: not http(s), and [`matches_ssh_url_regex`].
pub fn is_ssh_url(url: &str) -> bool {
    !(url.starts_with("http://") || url.starts_with("https://")) && matches_ssh_url_regex(url)
}

/// Whether upstream's (unanchored) regex `(ssh://[\w\d\.]+|.+@?.+\..+:)(:[\d]+){0,1}/*(.*)`
/// matches: v0.37.2's whole SSH-URL test, so `http://10.0.0.1:8080/r` counts as SSH there.
pub fn matches_ssh_url_regex(url: &str) -> bool {
    for line in url.split('\n') {
        if let Some(i) = line.find("ssh://") {
            let rest = &line[i + 6..];
            if rest
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return true;
            }
        }
        // `.+@?.+\..+:` = at least two characters, a '.', at least one character, a ':'.
        let chars: Vec<char> = line.chars().collect();
        let first_dot = chars.iter().enumerate().skip(2).find(|(_, c)| **c == '.');
        if let Some((i, _)) = first_dot
            && chars.iter().skip(i + 2).any(|c| *c == ':')
        {
            return true;
        }
    }
    false
}

/// Upstream's `validateGitAuth`: warnings when SSH credentials and the URL kind disagree,
/// judged by the flavour's SSH-URL test.
pub fn validate_git_auth(log: &Logger, creds_dir: &Path, url: &str, flavour: Flavour) {
    let shown = crate::error::redact_url(url);
    let ssh_cred = !matches!(
        std::fs::metadata(creds_dir.join(".ssh")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    let url_ssh = match flavour {
        Flavour::Catalog => is_ssh_url(url),
        Flavour::Pipelines037 => matches_ssh_url_regex(url),
    };
    if ssh_cred && !url_ssh {
        log.warn(
            callers().ssh_not_ssh_url,
            &format!(
                "SSH credentials have been provided but the URL({}) is not a valid SSH URL. This warning can be safely ignored if the URL is for a public repo or you are using basic auth",
                goflag::go_quote(&shown)
            ),
        );
    } else if !ssh_cred && url_ssh {
        log.warn(
            callers().ssh_no_creds,
            &format!(
                "URL({}) appears to need SSH authentication but no SSH credentials have been provided",
                goflag::go_quote(&shown)
            ),
        );
    }
}

/// Whether `<home>/.ssh/known_hosts` exists; other errors than "not found" are returned.
pub fn user_has_known_hosts(home: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO there must not block the open.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(home.join(".ssh/known_hosts"));
    match opened {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_url_table() {
        for (u, want) in [
            ("git@github.com:user/project.git", true),
            ("git@127.0.0.1:user/project.git", true),
            ("http://github.com/user/project.git", false),
            ("https://github.com/user/project.git", false),
            ("http://127.0.0.1/user/project.git", false),
            ("https://127.0.0.1/user/project.git", false),
            ("http://host.xz/path/to/repo.git/", false),
            ("https://host.xz/path/to/repo.git/", false),
            ("https://host.xz:1443/path/to/repo.git/", false),
            ("ssh://user@host.xz:port/path/to/repo.git/", true),
            ("ssh://user@host.xz/path/to/repo.git/", true),
            ("ssh://host.xz:port/path/to/repo.git/", true),
            ("ssh://host.xz/path/to/repo.git/", true),
            ("git://host.xz/path/to/repo.git/", false),
            ("/path/to/repo.git/", false),
            ("file://~/path/to/repo.git/", false),
            ("user@host.xz:/path/to/repo.git/", true),
            ("host.xz:/path/to/repo.git/", true),
            ("user@host.xz:path/to/repo.git", true),
            ("git@localhost:repo", false),
            ("git://host.xz:9418/x", true),
        ] {
            assert_eq!(is_ssh_url(u), want, "{u}");
            let http = u.starts_with("http://") || u.starts_with("https://");
            let v037 = want || (http && u.contains(".xz:"));
            assert_eq!(matches_ssh_url_regex(u), v037, "{u}");
        }
    }

    #[test]
    fn auth_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let log = Logger::capturing(crate::zap::STACKTRACE);
        validate_git_auth(&log, dir.path(), "http://google.com", Flavour::Catalog);
        assert!(log.lines().is_empty());
        validate_git_auth(
            &log,
            dir.path(),
            "ssh://git@github.com:chmouel/tekton",
            Flavour::Catalog,
        );
        assert!(log.lines()[0].contains(
            r#"URL(\"ssh://git@github.com:chmouel/tekton\") appears to need SSH authentication but no SSH credentials have been provided"#
        ));
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        let log = Logger::capturing(crate::zap::STACKTRACE);
        validate_git_auth(
            &log,
            dir.path(),
            "ssh://git@github.com:chmouel/tekton",
            Flavour::Catalog,
        );
        assert!(log.lines().is_empty());
        validate_git_auth(
            &log,
            dir.path(),
            "http://github.com/chmouel/tekton",
            Flavour::Catalog,
        );
        assert!(log.lines()[0].contains("is not a valid SSH URL. This warning can be safely ignored if the URL is for a public repo or you are using basic auth"));
        // v0.37.2 tests http(s) URLs with the regex too.
        let log = Logger::capturing(crate::zap::STACKTRACE);
        validate_git_auth(&log, dir.path(), "http://10.0.0.1:8080/r", Flavour::Catalog);
        validate_git_auth(
            &log,
            dir.path(),
            "http://10.0.0.1:8080/r",
            Flavour::Pipelines037,
        );
        assert_eq!(log.lines().len(), 1);
        assert!(log.lines()[0].contains("is not a valid SSH URL"));
        assert!(user_has_known_hosts(dir.path()).is_ok_and(|b| !b));
        std::fs::write(dir.path().join(".ssh/known_hosts"), "x").unwrap();
        assert!(user_has_known_hosts(dir.path()).unwrap());
    }
}
