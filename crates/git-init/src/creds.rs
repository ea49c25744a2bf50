//! Credentials as the git CLI and OpenSSH would find them, without spawning either.
//!
//! * HTTP(S): user/password in the URL, else git's `store` helper: `~/.git-credentials` (or
//!   `--file=`) matched on protocol, host, username and, with `credential.useHttpPath`, path;
//!   `credential.<url>.username` supplies the user name.
//!   Always for the URL libgit2 asks about ([`asking_url`]): after a redirect that is the new
//!   location, so one host's credentials are never offered to another.
//! * SSH: `~/.ssh/config` (`Host` patterns, `HostName`, `Port`, `User`, `IdentityFile`,
//!   `StrictHostKeyChecking`, `UserKnownHostsFile`) as written by Tekton's creds-init, default
//!   identities, the agent, and `known_hosts` host-key checking (accept-new without a file).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::config::{GlobalConfig, ParsedUrl, percent_decode};
use crate::zap::{self, Logger};
use gocompat::files;

/// What to offer for one HTTP(S) URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCredentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Reads a text file git-init does not own — a credential or ssh config file of `$HOME`
/// (`.git-credentials`, `.ssh/config`, `known_hosts`), or a file of a reused `.git`
/// (`FETCH_HEAD`, `shallow`, `info/sparse-checkout`) — as git and ssh do, where a file that
/// cannot be read counts as absent. Reads
/// are bounded ([`files::MAX_CONFIG_BYTES`]); a FIFO, a device or an oversized file is also
/// absent, with a warning naming it (git would block or read without end).
pub fn read_config_text(path: &Path) -> Option<String> {
    match files::read_bounded(path, files::MAX_CONFIG_BYTES) {
        Ok(data) => String::from_utf8(data).ok(),
        Err(e @ (files::ReadError::NotRegular(_) | files::ReadError::TooLarge { .. })) => {
            Logger::stderr(zap::STACKTRACE).warn(
                zap::callers().config_refused,
                &format!("ignoring {}", e.text(path)),
            );
            None
        }
        Err(_) => None,
    }
}

/// Finds the credentials git would use for `url` (after insteadOf rewriting).
pub fn http_credentials(cfg: &GlobalConfig, url: &str) -> HttpCredentials {
    let Some(u) = ParsedUrl::parse(url) else {
        return HttpCredentials::default();
    };
    if u.user.is_some() && u.password.is_some() {
        return HttpCredentials {
            username: u.user,
            password: u.password,
        };
    }
    let username = u.user.clone().or_else(|| {
        cfg.url_values("credential", "username", url)
            .last()
            .cloned()
    });
    let use_path = cfg
        .url_values("credential", "usehttppath", url)
        .last()
        .is_some_and(|v| crate::config::parse_git_bool(v));
    let want_path = use_path.then(|| u.path.trim_start_matches('/').to_string());
    for file in store_files(cfg, url) {
        let Some(text) = read_config_text(&file) else {
            continue;
        };
        for line in text.lines() {
            let Some(have) = ParsedUrl::parse(line.trim_end_matches('\r')) else {
                continue;
            };
            if have.scheme != u.scheme || have.host_port() != u.host_port() {
                continue;
            }
            if let Some(p) = &want_path
                && have.path.trim_start_matches('/') != p
            {
                continue;
            }
            if let Some(user) = &username
                && have.user.as_ref() != Some(user)
            {
                continue;
            }
            if have.user.is_some() && have.password.is_some() {
                return HttpCredentials {
                    username: have.user,
                    password: have.password,
                };
            }
        }
    }
    HttpCredentials {
        username,
        password: None,
    }
}

/// The URL libgit2 passes to the credentials callback, taken apart. No URL parser fits: its
/// userinfo is already decoded (a password may hold `@`, `/`, `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskingUrl {
    /// The URL with the user name re-encoded and no password: what credentials are looked up for.
    pub lookup: String,
    /// The URL without any userinfo: what messages show.
    pub shown: String,
    /// The URL carried a password, which libgit2 has already presented (and the server refused).
    pub had_password: bool,
}

/// Splits the callback's URL. libgit2 writes it as `scheme://[user[:password]@]host[:port]/path`
/// with the userinfo *decoded*, so a password may hold `@`, `/` or `:`; `user` (libgit2's own
/// copy of the user name) tells where the user name ends. With a password, everything up to the
/// last `@` is dropped from `shown`: that may cut a path holding `@`, never leaves a secret.
pub fn asking_url(url: &str, user: Option<&str>) -> AskingUrl {
    let Some((scheme, rest)) = url.split_once("://") else {
        return AskingUrl {
            lookup: url.to_string(),
            shown: crate::error::redact_url(url),
            had_password: false,
        };
    };
    let after_user = user.and_then(|u| rest.strip_prefix(u));
    let (user, host_and_path, had_password) = match (user, after_user) {
        (Some(u), Some(tail)) if tail.starts_with('@') => (Some(u), &tail[1..], false),
        (Some(u), Some(tail)) if tail.starts_with(':') => {
            let at = tail.rfind('@').map_or(0, |i| i + 1);
            (Some(u), &tail[at..], true)
        }
        _ => (None, rest, false),
    };
    let shown = format!("{scheme}://{host_and_path}");
    let lookup = match user {
        Some(u) => format!("{scheme}://{}@{host_and_path}", userinfo_encode(u)),
        None => shown.clone(),
    };
    AskingUrl {
        lookup,
        shown: crate::error::redact_url(&shown),
        had_password,
    }
}

/// Percent-encodes the characters that would end a URL's user name early.
fn userinfo_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' | '@' | ':' | '/' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

/// The credential files of every configured `store` helper, in helper order.
fn store_files(cfg: &GlobalConfig, url: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for helper in cfg.url_values("credential", "helper", url) {
        if helper.is_empty() {
            // An empty value resets the helper list.
            files.clear();
            continue;
        }
        let mut words = helper.split_whitespace();
        if words.next() != Some("store") {
            continue;
        }
        let rest: Vec<&str> = words.collect();
        let mut explicit = None;
        let mut i = 0;
        while i < rest.len() {
            if let Some(f) = rest[i].strip_prefix("--file=") {
                explicit = Some(f.to_string());
            } else if rest[i] == "--file" && i + 1 < rest.len() {
                explicit = Some(rest[i + 1].to_string());
                i += 1;
            }
            i += 1;
        }
        match explicit {
            Some(f) => files.push(expand_tilde(&f, cfg.home.as_deref())),
            None => {
                if let Some(h) = &cfg.home {
                    files.push(h.join(".git-credentials"));
                }
                let xdg = std::env::var_os("XDG_CONFIG_HOME")
                    .filter(|x| !x.is_empty())
                    .map(|x| PathBuf::from(x).join("git/credentials"))
                    .or_else(|| cfg.home.as_ref().map(|h| h.join(".config/git/credentials")));
                if let Some(x) = xdg {
                    files.push(x);
                }
            }
        }
    }
    files
}

fn expand_tilde(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

/// How strictly an SSH host key is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown hosts are rejected.
    Strict,
    /// Unknown hosts are accepted, changed keys rejected (`accept-new`).
    AcceptNew,
    /// Anything goes (`StrictHostKeyChecking no`).
    Off,
}

/// Everything needed to connect to one SSH URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPlan {
    /// URL to hand to libgit2 (alias replaced by `HostName`, `Port` applied).
    pub url: String,
    pub user: String,
    /// Host name and port as written in known_hosts lookups.
    pub host: String,
    pub port: u16,
    pub identities: Vec<PathBuf>,
    pub policy: HostKeyPolicy,
    pub known_hosts: Vec<PathBuf>,
}

/// (user, host, port, path, scp-like?) of an SSH URL.
pub type SshUrlParts = (Option<String>, String, Option<u16>, String, bool);

/// Splits an SSH URL (`ssh://[user@]host[:port]/path` or scp-like `[user@]host:path`).
pub fn split_ssh_url(url: &str) -> Option<SshUrlParts> {
    if let Some(rest) = url
        .strip_prefix("ssh://")
        .or_else(|| url.strip_prefix("git+ssh://"))
        .or_else(|| url.strip_prefix("ssh+git://"))
    {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rfind('@') {
            Some(i) => (Some(percent_decode(&authority[..i])), &authority[i + 1..]),
            None => (None, authority),
        };
        let (host, port) = crate::config::split_host_port(hostport);
        return Some((user, host, port, path.to_string(), false));
    }
    if url.contains("://") {
        return None;
    }
    // scp-like: a ':' before any '/'.
    let colon = url.find(':')?;
    if url[..colon].contains('/') {
        return None;
    }
    let (userhost, path) = (&url[..colon], &url[colon + 1..]);
    let (user, host) = match userhost.rfind('@') {
        Some(i) => (
            Some(userhost[..i].to_string()),
            userhost[i + 1..].to_string(),
        ),
        None => (None, userhost.to_string()),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some((user, host, None, path.to_string(), true))
}

/// Resolves `url` through `<ssh_home>/.ssh/config` like OpenSSH would.
pub fn ssh_plan(url: &str, ssh_home: &Path) -> Option<SshPlan> {
    let (url_user, alias, url_port, path, scp) = split_ssh_url(url)?;
    let ssh_dir = ssh_home.join(".ssh");
    let opts = read_ssh_config(&ssh_dir.join("config"), &alias, ssh_home);
    let host = opts.hostname.clone().unwrap_or_else(|| alias.clone());
    let port = url_port.or(opts.port).unwrap_or(22);
    let user = url_user
        .or(opts.user.clone())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "git".to_string());
    let mut identities = opts.identity_files.clone();
    if identities.is_empty() {
        for name in ["id_rsa", "id_ecdsa", "id_ed25519", "id_dsa"] {
            let p = ssh_dir.join(name);
            if p.is_file() {
                identities.push(p);
            }
        }
    }
    let user_known = if opts.known_hosts_files.is_empty() {
        vec![ssh_dir.join("known_hosts"), ssh_dir.join("known_hosts2")]
    } else {
        opts.known_hosts_files.clone()
    };
    let have_user_file = user_known.iter().any(|p| p.exists());
    let policy = match opts.strict.as_deref() {
        Some("no") | Some("off") => HostKeyPolicy::Off,
        Some("accept-new") => HostKeyPolicy::AcceptNew,
        Some("yes") | Some("ask") => HostKeyPolicy::Strict,
        // git-init's `core.sshCommand` makes a missing known_hosts mean accept-new.
        _ if have_user_file => HostKeyPolicy::Strict,
        _ => HostKeyPolicy::AcceptNew,
    };
    let mut known_hosts = user_known;
    known_hosts.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    let host_for_url = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let url = if scp && port == 22 {
        // Keep scp syntax so the path stays relative to the login directory, as with ssh.
        format!("{user}@{host_for_url}:{path}")
    } else {
        let path = if path.starts_with('/') || path.is_empty() {
            path
        } else if let Some(p) = path.strip_prefix('~') {
            format!("/~{p}")
        } else {
            // Servers resolve an absolute path like the scp form (GitHub, GitLab, Gitea).
            format!("/{path}")
        };
        format!(
            "ssh://{}@{host_for_url}:{port}{path}",
            user.replace('@', "%40")
        )
    };
    Some(SshPlan {
        url,
        user,
        host,
        port,
        identities,
        policy,
        known_hosts,
    })
}

#[derive(Debug, Default)]
struct SshOptions {
    hostname: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    identity_files: Vec<PathBuf>,
    strict: Option<String>,
    known_hosts_files: Vec<PathBuf>,
}

fn read_ssh_config(path: &Path, alias: &str, home: &Path) -> SshOptions {
    let mut o = SshOptions::default();
    let Some(text) = read_config_text(path) else {
        return o;
    };
    let mut active = true;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.find([' ', '\t', '=']) {
            Some(i) => (
                &line[..i],
                line[i..].trim_start_matches([' ', '\t', '=']).trim(),
            ),
            None => (line, ""),
        };
        let key = key.to_ascii_lowercase();
        let value = value.trim_matches('"');
        match key.as_str() {
            "host" => active = host_patterns_match(value, alias),
            // Match blocks need runtime criteria; treat them as not applying.
            "match" => active = false,
            _ if !active => {}
            "hostname" if o.hostname.is_none() => {
                o.hostname = Some(value.replace("%h", alias).replace("%%", "%"))
            }
            "port" if o.port.is_none() => o.port = value.parse().ok(),
            "user" if o.user.is_none() => o.user = Some(value.to_string()),
            "identityfile" => o.identity_files.push(expand_ssh_path(value, home, alias)),
            "stricthostkeychecking" if o.strict.is_none() => {
                o.strict = Some(value.to_ascii_lowercase())
            }
            "userknownhostsfile" if o.known_hosts_files.is_empty() => {
                o.known_hosts_files = value
                    .split_whitespace()
                    .map(|f| expand_ssh_path(f, home, alias))
                    .collect()
            }
            _ => {}
        }
    }
    o
}

fn expand_ssh_path(p: &str, home: &Path, alias: &str) -> PathBuf {
    let p = p
        .replace("%d", &home.to_string_lossy())
        .replace("%h", alias)
        .replace("%%", "%");
    if let Some(rest) = p.strip_prefix("~/") {
        home.join(rest)
    } else if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        home.join(".ssh").join(p)
    }
}

/// OpenSSH pattern lists: comma/space separated, `*`/`?` wildcards, `!` negation.
fn host_patterns_match(list: &str, host: &str) -> bool {
    let mut matched = false;
    for pat in list.split(|c: char| c == ',' || c.is_whitespace()) {
        if pat.is_empty() {
            continue;
        }
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg.as_bytes(), host.as_bytes()) {
                return false;
            }
        } else if glob(pat.as_bytes(), host.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*`/`?` glob, ASCII case-insensitive, in O(|p|·|s|): on a mismatch only the most recent `*`
/// is retried one byte further (an earlier star can never do better), so a hostile pattern like
/// `*a*a*a…b` cannot backtrack exponentially as a recursive matcher does.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and where in `s` that try started.
    let mut retry: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                retry = Some((pi, si));
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match retry {
                Some((resume, start)) => {
                    pi = resume;
                    si = start + 1;
                    retry = Some((resume, si));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Result of looking a host key up in known_hosts files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyStatus {
    Match,
    Mismatch,
    Unknown,
}

/// Checks `key` (the raw SSH key blob) for `host`/`port` against `files`.
pub fn check_known_hosts(files: &[PathBuf], host: &str, port: u16, key: &[u8]) -> HostKeyStatus {
    let name = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut seen_host = false;
    for f in files {
        let Some(text) = read_config_text(f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let mut first = parts.next().unwrap_or("");
            let mut revoked = false;
            if first.starts_with('@') {
                if first == "@revoked" {
                    revoked = true;
                } else {
                    // @cert-authority: certificates are not supported by libssh2 here.
                    continue;
                }
                first = parts.next().unwrap_or("");
            }
            if !known_host_names_match(first, &name) {
                continue;
            }
            let _keytype = parts.next();
            let Some(b64) = parts.next() else { continue };
            let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                continue;
            };
            if blob == key {
                if revoked {
                    return HostKeyStatus::Mismatch;
                }
                return HostKeyStatus::Match;
            }
            if !revoked {
                seen_host = true;
            }
        }
    }
    if seen_host {
        HostKeyStatus::Mismatch
    } else {
        HostKeyStatus::Unknown
    }
}

fn known_host_names_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        let Some((salt, hash)) = hashed.split_once('|') else {
            return false;
        };
        let eng = base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(hash)) = (eng.decode(salt), eng.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, name.as_bytes()).is_some_and(|h| h == hash);
    }
    host_patterns_match(field, name)
}

/// HMAC-SHA1 of a hashed known_hosts name, by the OpenSSL libssh2 links anyway; `None` if
/// OpenSSL refuses the key.
fn hmac_sha1(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let key = openssl::pkey::PKey::hmac(key).ok()?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha1(), &key).ok()?;
    signer.update(msg).ok()?;
    signer.sign_to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_semantics() {
        for (p, s, want) in [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("?", "", false),
            ("?", "a", true),
            ("*.example.com", "git.Example.COM", true),
            ("*.example.com", "example.com", false),
            ("git?.example.com", "git1.example.com", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*a", "aaab", false),
            ("**", "x", true),
            ("a*", "a", true),
            ("*b*", "abc", true),
        ] {
            assert_eq!(glob(p.as_bytes(), s.as_bytes()), want, "{p:?} {s:?}");
        }
        assert!(host_patterns_match("*.com,!bad.com", "good.com"));
        assert!(!host_patterns_match("*.com,!bad.com", "bad.com"));
    }

    #[test]
    fn pathological_glob_is_answered() {
        // Exponential for a recursive matcher (2^10 ways to place the stars), O(n·m) here.
        let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(60);
        assert!(!glob(pattern.as_bytes(), text.as_bytes()));
        assert!(glob(pattern.as_bytes(), format!("{text}b").as_bytes()));
        let long_pattern = "*a".repeat(500) + "b";
        assert!(!glob(long_pattern.as_bytes(), "a".repeat(5000).as_bytes()));
        assert!(!host_patterns_match(pattern, &text));
    }

    #[test]
    fn hostile_config_files_count_as_absent_without_hanging() {
        let d = tempfile::tempdir().unwrap();
        let zero = d.path().join(".git-credentials");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(read_config_text(&zero), None);
        std::fs::create_dir(d.path().join(".ssh")).unwrap();
        let fifo = d.path().join(".ssh/known_hosts");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_config_text(&fifo), None);
        assert_eq!(
            check_known_hosts(std::slice::from_ref(&fifo), "h", 22, b"key"),
            HostKeyStatus::Unknown
        );
        let sparse = d.path().join("config");
        std::fs::File::create(&sparse)
            .unwrap()
            .set_len(10 << 30)
            .unwrap();
        assert_eq!(read_config_text(&sparse), None);
        let ok = d.path().join("ok");
        std::fs::write(&ok, "https://u:p@h\n").unwrap();
        assert_eq!(read_config_text(&ok).as_deref(), Some("https://u:p@h\n"));
        // Opening the FIFO to see that it exists does not wait for a writer either.
        assert!(crate::home::user_has_known_hosts(d.path()).unwrap());
    }

    fn hexs(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_sha1_vector() {
        let mac = hmac_sha1(b"key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hexs(&mac.unwrap_or_default()),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
        // OpenSSL refuses an empty key; OpenSSH accepts only 20-byte salts anyway.
        assert_eq!(hmac_sha1(b"", b"x"), None);
    }

    #[test]
    fn store_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::write(
            home.join(".git-credentials"),
            "https://hostwide:pw0@github.com\nhttps://user1:token1@github.com/org/repo1\nhttps://user2:token2@github.com/org/repo2\n",
        )
        .unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[credential]\n\thelper = store\n[credential \"https://github.com/org/repo2\"]\n\tusername = user2\n\tuseHttpPath = true\n",
        )
        .unwrap();
        let entries = GlobalConfig {
            home: Some(home.to_path_buf()),
            entries: crate::config::read_entries(&home.join(".gitconfig")),
            write_path: None,
        };
        let c = http_credentials(&entries, "https://github.com/org/repo2");
        assert_eq!(c.username.as_deref(), Some("user2"));
        assert_eq!(c.password.as_deref(), Some("token2"));
        let c = http_credentials(&entries, "https://github.com/other/x");
        assert_eq!(c.password.as_deref(), Some("pw0"));
        let c = http_credentials(&entries, "https://u:p%40@example.com/x");
        assert_eq!(c.password.as_deref(), Some("p@"));
        let c = http_credentials(&entries, "https://gitlab.com/x");
        assert_eq!(c, HttpCredentials::default());
    }

    #[test]
    fn the_asking_url_is_split_without_leaking_the_password() {
        let a = asking_url("https://u:p@ss/w@rd@h:8443/org/r.git", Some("u"));
        assert!(a.had_password);
        assert_eq!(a.shown, "https://h:8443/org/r.git");
        let a = asking_url("http://tok@h/org/r@v1.git", Some("tok"));
        assert!(!a.had_password);
        assert_eq!(a.shown, "http://h/org/r@v1.git");
        assert_eq!(a.lookup, "http://tok@h/org/r@v1.git");
        let a = asking_url("http://a@b/c@h/x", Some("a@b/c"));
        assert_eq!(
            (a.lookup.as_str(), a.shown.as_str()),
            ("http://a%40b%2Fc@h/x", "http://h/x")
        );
        let a = asking_url("http://127.0.0.2:9/org/r.git", None);
        assert_eq!(a.lookup, "http://127.0.0.2:9/org/r.git");
        assert!(!a.had_password);
        // A password with '@' in a URL whose path also has '@': over-cut, never shown.
        let a = asking_url("https://u:x@y@h/p@q", Some("u"));
        assert!(
            !a.shown.contains('x') && !a.shown.contains('y'),
            "{}",
            a.shown
        );
    }

    #[test]
    fn ssh_config_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir(home.join(".ssh")).unwrap();
        std::fs::write(
            home.join(".ssh/config"),
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile /creds/.ssh/id_a\nHost gitlab.example.com--team--project\n    HostName gitlab.example.com\n    Port 2222\n    IdentityFile /creds/.ssh/id_b\n",
        )
        .unwrap();
        let p = ssh_plan(
            "git@gitlab.example.com--team--project:team/project.git",
            home,
        )
        .unwrap();
        assert_eq!(p.url, "ssh://git@gitlab.example.com:2222/team/project.git");
        assert_eq!(p.identities, vec![PathBuf::from("/creds/.ssh/id_b")]);
        assert_eq!(p.policy, HostKeyPolicy::AcceptNew);
        let p = ssh_plan("ssh://git@github.com/org/r.git", home).unwrap();
        assert_eq!(p.url, "ssh://git@github.com:22/org/r.git");
        std::fs::write(home.join(".ssh/known_hosts"), "x").unwrap();
        let p = ssh_plan("git@github.com:org/r.git", home).unwrap();
        assert_eq!(p.policy, HostKeyPolicy::Strict);
        assert_eq!(p.url, "git@github.com:org/r.git");
    }

    #[test]
    fn known_hosts_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        let key = b"keyblob";
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let salt = b"0123456789abcdefghij";
        let hashed = hmac_sha1(salt, b"[h2]:2222").unwrap_or_default();
        let eng = base64::engine::general_purpose::STANDARD;
        std::fs::write(
            &f,
            format!(
                "h1,other ssh-ed25519 {b64}\n|1|{}|{} ssh-ed25519 {b64}\nh3 ssh-ed25519 {}\n",
                eng.encode(salt),
                eng.encode(hashed),
                eng.encode(b"other")
            ),
        )
        .unwrap();
        let files = vec![f];
        assert_eq!(
            check_known_hosts(&files, "h1", 22, key),
            HostKeyStatus::Match
        );
        assert_eq!(
            check_known_hosts(&files, "h2", 2222, key),
            HostKeyStatus::Match
        );
        assert_eq!(
            check_known_hosts(&files, "h3", 22, key),
            HostKeyStatus::Mismatch
        );
        assert_eq!(
            check_known_hosts(&files, "h4", 22, key),
            HostKeyStatus::Unknown
        );
    }
}
