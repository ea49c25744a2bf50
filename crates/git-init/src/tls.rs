//! Loading the TLS trust store only when a connection needs it.
//!
//! libgit2 creates its OpenSSL context while the library initialises and loads the default CA
//! bundle into it right away: some 140 certificates parsed into half a MiB of heap in every
//! run, also for `git://`, `ssh://` and local clones that never speak TLS; a `GIT_SSL_CAINFO`
//! bundle was then parsed a second time. The binary therefore points OpenSSL's default bundle
//! at `/dev/null` before libgit2 starts ([`defer_default_bundle`]; an existing file, so
//! openssl-probe keeps it, and an empty one, so loading it costs nothing) and [`TrustStore`]
//! loads the real bundle into libgit2's context just before the first HTTPS connection (or the
//! first connection through a proxy). The default certificate directory is left alone: OpenSSL
//! only reads it, one hashed file at a time, while verifying.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::config::GlobalConfig;

/// The bundle OpenSSL would have loaded, recorded when loading it was deferred.
static DEFERRED_DEFAULT: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The empty file that stands in for the default bundle until it is needed.
const EMPTY_BUNDLE: &str = "/dev/null";

/// Records the default CA bundle (`SSL_CERT_FILE`, or what openssl-probe finds) and points
/// `SSL_CERT_FILE` at an empty file so libgit2's initialisation does not parse it.
///
/// # Safety
/// Changes the environment: call it while the process has a single thread, before any
/// libgit2 use.
pub unsafe fn defer_default_bundle() {
    let default = openssl_probe::probe().cert_file;
    if DEFERRED_DEFAULT.set(default).is_ok() {
        // SAFETY: the caller guarantees no other thread reads the environment now.
        unsafe { std::env::set_var("SSL_CERT_FILE", EMPTY_BUNDLE) };
    }
}

/// CA locations to load into libgit2's OpenSSL context before the first TLS connection.
#[derive(Debug, Default)]
pub struct TrustStore {
    file: Option<PathBuf>,
    dir: Option<PathBuf>,
    loaded: Cell<bool>,
}

impl TrustStore {
    /// `GIT_SSL_CAINFO`/`http.sslCAInfo` (as git, instead of the default bundle) or the
    /// deferred default bundle; `GIT_SSL_CAPATH`/`http.sslCAPath` in addition.
    pub fn new(cfg: &GlobalConfig) -> Self {
        let user_file = non_empty_env("GIT_SSL_CAINFO")
            .or_else(|| cfg.get("http", "sslcainfo").map(PathBuf::from));
        let file = user_file.or_else(|| DEFERRED_DEFAULT.get().cloned().flatten());
        let dir = non_empty_env("GIT_SSL_CAPATH")
            .or_else(|| cfg.get("http", "sslcapath").map(PathBuf::from));
        TrustStore {
            file,
            dir,
            loaded: Cell::new(false),
        }
    }

    /// Loads the locations into libgit2's context, once; a no-op for connections without TLS.
    pub fn prepare_for(&self, url: &str, through_proxy: bool) {
        if self.loaded.get() || !(through_proxy || needs_tls(url)) {
            return;
        }
        self.loaded.set(true);
        // SAFETY: libgit2 option calls; no fetch is running while they are made. Failures
        // surface later as certificate errors naming the host, like git's.
        unsafe {
            if let Some(f) = &self.file {
                let _ = git2::opts::set_ssl_cert_file(f);
            }
            if let Some(d) = &self.dir {
                let _ = git2::opts::set_ssl_cert_dir(d);
            }
        }
    }
}

/// Whether `url` is fetched over TLS.
pub fn needs_tls(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// Whether a proxy will carry connections (configured, or from the environment as libgit2's
/// automatic proxy detection reads it).
pub fn proxy_in_environment() -> bool {
    [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ]
    .iter()
    .any(|k| non_empty_env(k).is_some())
}

fn non_empty_env(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_need_tls() {
        assert!(needs_tls("https://example.com/r.git"));
        assert!(needs_tls("HTTPS://example.com/r.git"));
        assert!(!needs_tls("http://example.com/r.git"));
        assert!(!needs_tls("git://example.com/r.git"));
        assert!(!needs_tls("git@example.com:r.git"));
        assert!(!needs_tls("/srv/r.git"));
        assert!(!needs_tls("https:/"));
    }
}
