//! Credentials as the git CLI and OpenSSH would find them, without spawning either.
//!
//! * HTTP(S): user/password in the URL, else git's `store` helper: `~/.git-credentials` (or
//!   `--file=`) matched on protocol, host, username and, with `credential.useHttpPath`, path;
//!   `credential.<url>.username` supplies the user name.
//! * SSH: `~/.ssh/config` (`Host` patterns, `HostName`, `Port`, `User`, `IdentityFile`,
//!   `StrictHostKeyChecking`, `UserKnownHostsFile`) as written by Tekton's creds-init, default
//!   identities, the agent, and `known_hosts` host-key checking (accept-new without a file).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::config::{GlobalConfig, ParsedUrl, percent_decode};

/// What to offer for one HTTP(S) URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCredentials {
    pub username: Option<String>,
    pub password: Option<String>,
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
        let Ok(text) = std::fs::read_to_string(&file) else {
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
    let Ok(text) = std::fs::read_to_string(path) else {
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

/// `*`/`?` wildcard match, ASCII case-insensitive. Iterative with one resume point (the last
/// `*`): O(pattern × host) steps, where trying every split at every `*` would be exponential
/// in the number of stars (a 100-byte `Host` line could hang the clone).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where the pattern resumes and how much of `s` the star took.
    let mut resume: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                resume = Some((pi, si));
            }
            Some(b'?') => (pi, si) = (pi + 1, si + 1),
            Some(c) if c.eq_ignore_ascii_case(&s[si]) => (pi, si) = (pi + 1, si + 1),
            _ => match resume {
                // Let the star take one more byte and retry the rest of the pattern.
                Some((after_star, taken)) => {
                    resume = Some((after_star, taken + 1));
                    (pi, si) = (after_star, taken + 1);
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
        let Ok(text) = std::fs::read_to_string(f) else {
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
        return hmac_sha1(&salt, name.as_bytes()).as_slice() == hash.as_slice();
    }
    host_patterns_match(field, name)
}

/// HMAC-SHA1 (RFC 2104), for hashed known_hosts entries.
pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(&sha1(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(msg);
    let ih = sha1(&inner);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&ih);
    sha1(&outer)
}

/// SHA-1 (FIPS 180-1).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexs(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_vectors() {
        assert_eq!(
            hexs(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hexs(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hexs(&hmac_sha1(
                b"key",
                b"The quick brown fox jumps over the lazy dog"
            )),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
    }

    /// The exhaustive definition `glob` must agree with (exponential, so small inputs only).
    fn glob_by_definition(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                glob_by_definition(&p[1..], s) || (!s.is_empty() && glob_by_definition(p, &s[1..]))
            }
            (Some(b'?'), Some(_)) => glob_by_definition(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => glob_by_definition(&p[1..], &s[1..]),
            _ => false,
        }
    }

    fn words(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|w| alphabet.iter().map(move |&c| [w.as_slice(), &[c]].concat()))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn glob_agrees_with_its_definition() {
        for p in words(b"aB*?", 5) {
            for s in words(b"ab", 5) {
                assert_eq!(glob(&p, &s), glob_by_definition(&p, &s), "{p:?} {s:?}");
            }
        }
    }

    #[test]
    fn host_patterns_do_not_backtrack_exponentially() {
        // Found by fuzz/fuzz_targets/ssh_config.rs: this 56-byte pattern took over 10 s.
        let pattern = format!("{}b", "*a".repeat(25));
        let host = "a".repeat(60);
        let started = std::time::Instant::now();
        assert!(!host_patterns_match(&pattern, &host));
        assert!(host_patterns_match(&format!("{pattern},*"), &host));
        assert!(!known_host_names_match(&pattern, &host));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
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
        let hashed = hmac_sha1(salt, b"[h2]:2222");
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
