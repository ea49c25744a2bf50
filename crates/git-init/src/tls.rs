//! TLS for `https://` remotes, set up on the first TLS connection.
//!
//! libgit2's own OpenSSL backend creates its context while the library initialises: OpenSSL's
//! providers and cipher tables and the whole CA bundle, a few MiB of code and heap in every
//! run, also for `git://`, `ssh://` and local clones that never speak TLS. libgit2 is therefore
//! built without a TLS backend and this module registers one through `git_stream_register`:
//! the OpenSSL context (CA bundle included) is built the first time libgit2 asks for a TLS
//! stream, and reused for the rest of the run.
//!
//! The stream behaves like libgit2's OpenSSL stream: TCP through libgit2's socket stream (its
//! timeouts and error texts), SNI, the handshake without verification, then the chain and host
//! name checked; a failure returns `GIT_ECERTIFICATE` so libgit2 offers the certificate to the
//! fetch's certificate callback, which accepts it when `-sslVerify=false`. HTTPS through a
//! proxy uses `wrap` over the tunnel libgit2 opened.
//!
//! Trusted CAs, as git: `GIT_SSL_CAINFO` or `http.sslCAInfo` instead of the default bundle
//! (`SSL_CERT_FILE`, or the system bundle openssl-probe finds); `GIT_SSL_CAPATH` or
//! `http.sslCAPath` in addition to the default directory (`SSL_CERT_DIR` or the system one).

use std::ffi::{CStr, CString, OsString, c_char, c_int, c_uint, c_void};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslOptions, SslStream,
    SslVerifyMode,
};
use openssl::x509::X509VerifyResult;
use openssl::x509::store::X509Lookup;

use crate::config::GlobalConfig;

/// Where the trusted CAs come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    /// `GIT_SSL_CAINFO` / `http.sslCAInfo`: replaces the default bundle.
    pub file: Option<PathBuf>,
    /// `GIT_SSL_CAPATH` / `http.sslCAPath`: searched besides the default directory.
    pub dir: Option<PathBuf>,
}

impl TrustStore {
    /// The user's CA settings from the environment and the global git configuration.
    pub fn new(cfg: &GlobalConfig) -> Self {
        Self::from_sources(|key| std::env::var_os(key), cfg)
    }

    /// The settings from `env` (a variable lookup) and `cfg`: a non-empty variable wins over
    /// the configuration, as in git.
    pub fn from_sources(env: impl Fn(&str) -> Option<OsString>, cfg: &GlobalConfig) -> Self {
        let var = |key: &str| env(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        TrustStore {
            file: var("GIT_SSL_CAINFO").or_else(|| cfg.get("http", "sslcainfo").map(PathBuf::from)),
            dir: var("GIT_SSL_CAPATH").or_else(|| cfg.get("http", "sslcapath").map(PathBuf::from)),
        }
    }
}

/// The settings the context will be built from (first [`register`] wins).
static TRUST: OnceLock<TrustStore> = OnceLock::new();
/// The context, built on the first TLS connection.
static CONTEXT: OnceLock<Result<SslContext, String>> = OnceLock::new();

fn build_context(trust: &TrustStore) -> Result<SslContext, String> {
    let text = |e: openssl::error::ErrorStack| format!("could not initialize openssl: {e}");
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(text)?;
    b.set_options(
        SslOptions::NO_SSLV2
            | SslOptions::NO_SSLV3
            | SslOptions::NO_COMPRESSION
            | SslOptions::IGNORE_UNEXPECTED_EOF,
    );
    // Verified after the handshake, so that the fetch's certificate callback decides.
    b.set_verify(SslVerifyMode::NONE);
    let defaults = openssl_probe::probe();
    // A bundle that cannot be read leaves nothing trusted: the server's certificate is then
    // reported as invalid, as git reports it.
    if let Some(file) = trust.file.as_ref().or(defaults.cert_file.as_ref()) {
        let _ = b.set_ca_file(file);
    }
    let dirs: Vec<&PathBuf> = defaults.cert_dir.iter().chain(trust.dir.iter()).collect();
    if !dirs.is_empty() {
        let lookup = b
            .cert_store_mut()
            .add_lookup(X509Lookup::hash_dir())
            .map_err(text)?;
        for d in dirs {
            if let Some(d) = d.to_str() {
                let _ = lookup.add_dir(d, SslFiletype::PEM);
            }
        }
    }
    Ok(b.build())
}

fn context() -> Result<&'static SslContext, String> {
    CONTEXT
        .get_or_init(|| build_context(TRUST.get_or_init(TrustStore::default)))
        .as_ref()
        .map_err(Clone::clone)
}

// ---- libgit2's stream interface (include/git2/sys/stream.h, cert.h) ----

const GIT_STREAM_VERSION: c_int = 1;
const GIT_STREAM_TLS: c_int = 2;
const GIT_CERT_X509: c_int = 1;
const GIT_ERROR_SSL: c_int = 16;
const GIT_ECERTIFICATE: c_int = -17;
/// `encrypted : 1` is the lowest bit of the bit-field word.
const FLAG_ENCRYPTED: c_uint = 1;

#[repr(C)]
struct RawStream {
    version: c_int,
    flags: c_uint,
    timeout: c_int,
    connect_timeout: c_int,
    connect: Option<unsafe extern "C" fn(*mut RawStream) -> c_int>,
    certificate: Option<unsafe extern "C" fn(*mut *mut RawCertX509, *mut RawStream) -> c_int>,
    set_proxy: Option<unsafe extern "C" fn(*mut RawStream, *const c_void) -> c_int>,
    read: Option<unsafe extern "C" fn(*mut RawStream, *mut c_void, usize) -> isize>,
    write: Option<unsafe extern "C" fn(*mut RawStream, *const c_char, usize, c_int) -> isize>,
    close: Option<unsafe extern "C" fn(*mut RawStream) -> c_int>,
    free: Option<unsafe extern "C" fn(*mut RawStream)>,
}

#[repr(C)]
struct RawCertX509 {
    cert_type: c_int,
    data: *mut c_void,
    len: usize,
}

#[repr(C)]
struct Registration {
    version: c_int,
    init: Option<unsafe extern "C" fn(*mut *mut RawStream, *const c_char, *const c_char) -> c_int>,
    wrap: Option<unsafe extern "C" fn(*mut *mut RawStream, *mut RawStream, *const c_char) -> c_int>,
}

unsafe extern "C" {
    fn git_stream_register(kind: c_int, registration: *mut Registration) -> c_int;
    fn git_socket_stream_new(
        out: *mut *mut RawStream,
        host: *const c_char,
        port: *const c_char,
    ) -> c_int;
    fn git_error_set_str(class: c_int, message: *const c_char) -> c_int;
}

fn set_error(message: &str) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: a valid C string; libgit2 copies it.
    unsafe {
        git_error_set_str(GIT_ERROR_SSL, message.as_ptr());
    }
}

/// Keeps libssh2's start-up from initialising OpenSSL: libgit2 starts libssh2 eagerly, and
/// libssh2-sys funnels that through `openssl_sys::init` (all of libssl's error strings and
/// more). OpenSSL 1.1+ initialises itself on first use, so nothing is lost: an SSH connection
/// or the first TLS context does it then. Call before the first git2 use.
pub fn defer_openssl_init() {
    // SAFETY: the vendored OpenSSL is 3.x, which initialises on demand; the only difference is
    // that libssl's error strings are loaded when a context is made instead of at start-up.
    unsafe { openssl_sys::assume_init() };
}

/// Registers the TLS stream with libgit2 and records the CA settings; once per process.
pub fn register(trust: TrustStore) {
    static DONE: OnceLock<()> = OnceLock::new();
    let _ = TRUST.set(trust);
    DONE.get_or_init(|| {
        let mut registration = Registration {
            version: GIT_STREAM_VERSION,
            init: Some(stream_init),
            wrap: Some(stream_wrap),
        };
        // SAFETY: libgit2 is initialised (git2 did it) and copies the registration.
        unsafe {
            git_stream_register(GIT_STREAM_TLS, &mut registration);
        }
    });
}

/// The underlying transport: libgit2's socket stream, or the proxy tunnel.
#[derive(Debug)]
struct Transport(*mut RawStream);

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: the inner stream outlives the TLS stream that owns this transport.
        let n = unsafe {
            match (*self.0).read {
                Some(read) => read(self.0, buf.as_mut_ptr().cast(), buf.len()),
                None => -1,
            }
        };
        usize::try_from(n).map_err(|_| std::io::Error::other("transport read failed"))
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: as in `read`.
        let n = unsafe {
            match (*self.0).write {
                Some(write) => write(self.0, buf.as_ptr().cast(), buf.len(), 0),
                None => -1,
            }
        };
        usize::try_from(n).map_err(|_| std::io::Error::other("transport write failed"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stream libgit2 holds; `raw` first, so a `*mut RawStream` is a `*mut TlsStream`.
#[repr(C)]
struct TlsStream {
    raw: RawStream,
    inner: *mut RawStream,
    owns_inner: bool,
    host: String,
    tls: Option<SslStream<Transport>>,
    der: Vec<u8>,
    cert: RawCertX509,
}

fn new_stream(out: *mut *mut RawStream, inner: *mut RawStream, owns: bool, host: String) -> c_int {
    // SAFETY: `inner` is a live stream from libgit2.
    let (timeout, connect_timeout) = unsafe { ((*inner).timeout, (*inner).connect_timeout) };
    let stream = Box::new(TlsStream {
        raw: RawStream {
            version: GIT_STREAM_VERSION,
            flags: FLAG_ENCRYPTED,
            timeout,
            connect_timeout,
            connect: Some(stream_connect),
            certificate: Some(stream_certificate),
            set_proxy: None,
            read: Some(stream_read),
            write: Some(stream_write),
            close: Some(stream_close),
            free: Some(stream_free),
        },
        inner,
        owns_inner: owns,
        host,
        tls: None,
        der: Vec::new(),
        cert: RawCertX509 {
            cert_type: GIT_CERT_X509,
            data: std::ptr::null_mut(),
            len: 0,
        },
    });
    // SAFETY: libgit2 passes a valid out pointer.
    unsafe { *out = Box::into_raw(stream).cast() };
    0
}

fn c_text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: libgit2 passes NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

unsafe extern "C" fn stream_init(
    out: *mut *mut RawStream,
    host: *const c_char,
    port: *const c_char,
) -> c_int {
    let mut inner: *mut RawStream = std::ptr::null_mut();
    // SAFETY: arguments as libgit2 gave them.
    let rc = unsafe { git_socket_stream_new(&mut inner, host, port) };
    if rc < 0 {
        return rc;
    }
    new_stream(out, inner, true, c_text(host))
}

unsafe extern "C" fn stream_wrap(
    out: *mut *mut RawStream,
    inner: *mut RawStream,
    host: *const c_char,
) -> c_int {
    new_stream(out, inner, false, c_text(host))
}

/// The [`TlsStream`] behind the pointer libgit2 hands back.
///
/// # Safety
/// `s` must be a stream made by [`new_stream`].
unsafe fn tls_stream_of<'a>(s: *mut RawStream) -> &'a mut TlsStream {
    // SAFETY: see the function's contract; `raw` is the first field.
    unsafe { &mut *s.cast::<TlsStream>() }
}

unsafe extern "C" fn stream_connect(s: *mut RawStream) -> c_int {
    // SAFETY: libgit2 calls this on our own streams only.
    let st = unsafe { tls_stream_of(s) };
    if st.owns_inner {
        // SAFETY: the inner stream is live.
        let rc = unsafe {
            (*st.inner).timeout = st.raw.timeout;
            (*st.inner).connect_timeout = st.raw.connect_timeout;
            match (*st.inner).connect {
                Some(connect) => connect(st.inner),
                None => -1,
            }
        };
        if rc < 0 {
            return rc;
        }
    }
    match handshake(st) {
        Ok(()) => 0,
        Err(HandshakeFailure::Certificate(msg)) => {
            set_error(msg);
            GIT_ECERTIFICATE
        }
        Err(HandshakeFailure::Other(msg)) => {
            set_error(&msg);
            -1
        }
    }
}

enum HandshakeFailure {
    Certificate(&'static str),
    Other(String),
}

fn handshake(st: &mut TlsStream) -> Result<(), HandshakeFailure> {
    let ctx = context().map_err(HandshakeFailure::Other)?;
    let err = |e: openssl::error::ErrorStack| HandshakeFailure::Other(format!("SSL error: {e}"));
    let mut ssl = Ssl::new(ctx).map_err(err)?;
    let host = st.host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ssl.param_mut().set_ip(ip).map_err(err)?,
        Err(_) => {
            ssl.set_hostname(host).map_err(err)?;
            ssl.param_mut().set_host(host).map_err(err)?;
        }
    }
    let tls = ssl.connect(Transport(st.inner)).map_err(|e| {
        HandshakeFailure::Other(match e {
            openssl::ssl::HandshakeError::Failure(m) => format!("SSL error: {}", m.error()),
            other => format!("SSL error: {other}"),
        })
    })?;
    let peer = tls.ssl().peer_certificate();
    let verified = tls.ssl().verify_result();
    st.tls = Some(tls);
    let Some(cert) = peer else {
        return Err(HandshakeFailure::Certificate(
            "the server did not provide a certificate",
        ));
    };
    st.der = cert.to_der().unwrap_or_default();
    if verified == X509VerifyResult::OK {
        Ok(())
    } else if verified.as_raw() == openssl_sys::X509_V_ERR_HOSTNAME_MISMATCH
        || verified.as_raw() == openssl_sys::X509_V_ERR_IP_ADDRESS_MISMATCH
    {
        Err(HandshakeFailure::Certificate(
            "hostname does not match certificate",
        ))
    } else {
        Err(HandshakeFailure::Certificate(
            "the SSL certificate is invalid",
        ))
    }
}

unsafe extern "C" fn stream_certificate(out: *mut *mut RawCertX509, s: *mut RawStream) -> c_int {
    // SAFETY: libgit2 calls this on our own streams only, after connect.
    let st = unsafe { tls_stream_of(s) };
    st.cert.data = st.der.as_mut_ptr().cast();
    st.cert.len = st.der.len();
    // SAFETY: a valid out pointer; the certificate lives as long as the stream.
    unsafe { *out = &mut st.cert };
    0
}

unsafe extern "C" fn stream_read(s: *mut RawStream, data: *mut c_void, len: usize) -> isize {
    // SAFETY: libgit2 calls this on our own streams with a writable buffer of `len` bytes.
    let (st, buf) = unsafe {
        (
            tls_stream_of(s),
            std::slice::from_raw_parts_mut(data.cast::<u8>(), len),
        )
    };
    let Some(tls) = st.tls.as_mut() else {
        set_error("SSL error: read before connect");
        return -1;
    };
    match tls.ssl_read(buf) {
        Ok(n) => n as isize,
        Err(e) if e.code() == ErrorCode::ZERO_RETURN => 0,
        Err(e) => {
            // A transport failure already carries libgit2's own message (timeouts and such).
            if e.io_error().is_none() {
                set_error(&format!("SSL error: {e}"));
            }
            -1
        }
    }
}

unsafe extern "C" fn stream_write(
    s: *mut RawStream,
    data: *const c_char,
    len: usize,
    _flags: c_int,
) -> isize {
    // SAFETY: libgit2 calls this on our own streams with `len` readable bytes.
    let (st, buf) = unsafe {
        (
            tls_stream_of(s),
            std::slice::from_raw_parts(data.cast::<u8>(), len),
        )
    };
    let Some(tls) = st.tls.as_mut() else {
        set_error("SSL error: write before connect");
        return -1;
    };
    match tls.ssl_write(buf) {
        Ok(n) => n as isize,
        Err(e) => {
            if e.io_error().is_none() {
                set_error(&format!("SSL error: {e}"));
            }
            -1
        }
    }
}

unsafe extern "C" fn stream_close(s: *mut RawStream) -> c_int {
    // SAFETY: libgit2 calls this on our own streams only.
    let st = unsafe { tls_stream_of(s) };
    if let Some(mut tls) = st.tls.take() {
        let _ = tls.shutdown();
    }
    if st.owns_inner {
        // SAFETY: the inner stream is live until `free`.
        unsafe {
            if let Some(close) = (*st.inner).close {
                return close(st.inner);
            }
        }
    }
    0
}

unsafe extern "C" fn stream_free(s: *mut RawStream) {
    // SAFETY: made by `Box::into_raw` in `new_stream`; libgit2 frees each stream once.
    let mut st = unsafe { Box::from_raw(s.cast::<TlsStream>()) };
    st.tls = None;
    if st.owns_inner {
        // SAFETY: we own the inner stream and nothing uses it after this.
        unsafe {
            if let Some(free) = (*st.inner).free {
                free(st.inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_settings_come_from_the_environment_or_git_config() {
        let entry = |key: &str, value: &str| crate::config::Entry {
            section: "http".into(),
            subsection: None,
            key: key.into(),
            value: Some(value.into()),
        };
        let cfg = GlobalConfig {
            entries: vec![
                entry("sslcainfo", "/cfg/ca.pem"),
                entry("sslcapath", "/cfg/certs"),
            ],
            ..GlobalConfig::default()
        };
        let none = |_: &str| None::<OsString>;
        assert_eq!(
            TrustStore::from_sources(none, &GlobalConfig::default()),
            TrustStore::default()
        );
        let from_cfg = TrustStore::from_sources(none, &cfg);
        assert_eq!(from_cfg.file, Some(PathBuf::from("/cfg/ca.pem")));
        assert_eq!(from_cfg.dir, Some(PathBuf::from("/cfg/certs")));
        let env = |key: &str| match key {
            "GIT_SSL_CAINFO" => Some(OsString::from("/env/ca.pem")),
            "GIT_SSL_CAPATH" => Some(OsString::from("/env/certs")),
            _ => None,
        };
        let from_env = TrustStore::from_sources(env, &cfg);
        assert_eq!(from_env.file, Some(PathBuf::from("/env/ca.pem")));
        assert_eq!(from_env.dir, Some(PathBuf::from("/env/certs")));
        // An empty variable counts as unset, as in git.
        let empty = |_: &str| Some(OsString::new());
        assert_eq!(TrustStore::from_sources(empty, &cfg), from_cfg);
    }

    #[test]
    fn a_context_builds_with_missing_ca_locations() {
        let t = TrustStore {
            file: Some(PathBuf::from("/nonexistent/ca.pem")),
            dir: Some(PathBuf::from("/nonexistent/certs")),
        };
        assert!(build_context(&t).is_ok());
    }
}
