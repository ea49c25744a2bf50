//! The user's git configuration as the git CLI would see it.
//!
//! libgit2's own global-config lookup is switched off (it ignores `GIT_CONFIG_GLOBAL` and
//! depends on the passwd database); instead the files git reads are opened here:
//! `$GIT_CONFIG_GLOBAL`, or `$XDG_CONFIG_HOME/git/config` (`~/.config/git/config`) and
//! `~/.gitconfig`. Values are looked up the way git does (last one wins, URL-matched sections).

use std::path::{Path, PathBuf};

/// One `section.subsection.key = value` entry, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-case section name.
    pub section: String,
    /// Subsection, case preserved (`None` for `[section]`).
    pub subsection: Option<String>,
    /// Lower-case key.
    pub key: String,
    pub value: Option<String>,
}

/// The merged global configuration.
#[derive(Debug, Clone, Default)]
pub struct GlobalConfig {
    pub entries: Vec<Entry>,
    /// The file `git config --global` writes to.
    pub write_path: Option<PathBuf>,
    /// `$HOME` as git expands `~`.
    pub home: Option<PathBuf>,
}

impl GlobalConfig {
    /// Loads the files git reads for the current environment.
    pub fn load() -> Self {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let mut files = Vec::new();
        let write_path;
        if let Some(g) = std::env::var_os("GIT_CONFIG_GLOBAL").filter(|g| !g.is_empty()) {
            files.push(PathBuf::from(&g));
            write_path = Some(PathBuf::from(g));
        } else {
            let xdg = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|x| !x.is_empty())
                .map(|x| PathBuf::from(x).join("git/config"))
                .or_else(|| home.as_ref().map(|h| h.join(".config/git/config")));
            if let Some(x) = &xdg {
                files.push(x.clone());
            }
            let dot = home.as_ref().map(|h| h.join(".gitconfig"));
            if let Some(d) = &dot {
                files.push(d.clone());
            }
            // git writes to ~/.gitconfig unless only the XDG file exists.
            write_path = match (&dot, &xdg) {
                (Some(d), Some(x)) if !d.exists() && x.exists() => Some(x.clone()),
                (Some(d), _) => Some(d.clone()),
                (None, x) => x.clone(),
            };
        }
        let mut entries = Vec::new();
        for f in files {
            if f.is_file() {
                entries.extend(read_entries(&f));
            }
        }
        GlobalConfig {
            entries,
            write_path,
            home,
        }
    }

    /// The last value of `section.key` (no subsection).
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.section == section && e.subsection.is_none() && e.key == key)
            .map(|e| e.value.clone().unwrap_or_default())
    }

    /// git's boolean for `section.key`.
    pub fn get_bool(&self, section: &str, key: &str) -> Option<bool> {
        self.get(section, key).map(|v| parse_git_bool(&v))
    }

    /// Values of `section.<url>.key` and `section.key` that apply to `url`, in file order
    /// (git's urlmatch: same scheme, host and port, path prefix at a `/` boundary, user if given).
    pub fn url_values(&self, section: &str, key: &str, url: &str) -> Vec<String> {
        let target = ParsedUrl::parse(url);
        self.entries
            .iter()
            .filter(|e| e.section == section && e.key == key)
            .filter(|e| match (&e.subsection, &target) {
                (None, _) => true,
                (Some(pattern), Some(t)) => url_matches(pattern, t),
                (Some(_), None) => false,
            })
            .map(|e| e.value.clone().unwrap_or_default())
            .collect()
    }

    /// Applies `url.<base>.insteadOf` rewriting (longest matching prefix wins).
    pub fn rewrite_url(&self, url: &str) -> String {
        let mut best: Option<(&str, &str)> = None;
        for e in &self.entries {
            if e.section != "url" || e.key != "insteadof" {
                continue;
            }
            let (Some(base), Some(prefix)) = (&e.subsection, &e.value) else {
                continue;
            };
            if url.starts_with(prefix.as_str()) && best.is_none_or(|(_, p)| prefix.len() > p.len())
            {
                best = Some((base, prefix));
            }
        }
        match best {
            Some((base, prefix)) => format!("{base}{}", &url[prefix.len()..]),
            None => url.to_string(),
        }
    }

    /// Adds `safe.directory = <dir>` to the global file unless it is already there
    /// (upstream appends a duplicate on every run).
    pub fn add_safe_directory(&self, dir: &str) -> Result<(), String> {
        let already = self.entries.iter().any(|e| {
            e.section == "safe" && e.key == "directory" && e.value.as_deref() == Some(dir)
        });
        if already {
            return Ok(());
        }
        let Some(path) = &self.write_path else {
            return Err("$HOME not set".to_string());
        };
        let mut cfg = git2::Config::open(path).map_err(|e| e.message().to_string())?;
        cfg.set_multivar("safe.directory", "^$a", dir)
            .map_err(|e| e.message().to_string())
    }
}

/// git's `git_config_bool`.
pub fn parse_git_bool(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    match l.as_str() {
        "" | "false" | "no" | "off" => false,
        "true" | "yes" | "on" => true,
        n => n.parse::<i64>().map(|i| i != 0).unwrap_or(false),
    }
}

pub(crate) fn read_entries(path: &Path) -> Vec<Entry> {
    let Ok(cfg) = git2::Config::open(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(mut it) = cfg.entries(None) {
        while let Some(Ok(e)) = it.next() {
            let Some(name) = e.name() else { continue };
            // `value()` panics on a key without `=` (git's implicit true): ask first.
            let value = if e.has_value() { e.value() } else { None };
            out.extend(Entry::from_name(name, value));
        }
    }
    out
}

impl Entry {
    /// Splits libgit2's `section[.subsection].key` name; `None` without a key.
    fn from_name(name: &str, value: Option<&str>) -> Option<Entry> {
        let (first, last) = (name.find('.')?, name.rfind('.')?);
        Some(Entry {
            section: name[..first].to_ascii_lowercase(),
            subsection: (last > first).then(|| name[first + 1..last].to_string()),
            key: name[last + 1..].to_ascii_lowercase(),
            value: value.map(str::to_string),
        })
    }
}

/// Parses `text`, a whole config file already read (bounded) by the caller, with libgit2's
/// own config parser — the one `git2::Config::open` uses — through its in-memory backend,
/// which reads nothing else: `include.path` stays an ordinary entry, as git treats it in
/// `.gitmodules`, instead of being followed to another, unbounded file. Parse errors are
/// libgit2's text with `origin` as the file name.
pub fn parse_entries(text: &[u8], origin: &Path) -> Result<Vec<Entry>, String> {
    use libgit2_sys as raw;
    use std::ffi::{CStr, c_char, c_int, c_void};
    use std::ptr;

    // In libgit2 since 1.8 (`git2/sys/config.h`); libgit2-sys does not declare it.
    unsafe extern "C" {
        fn git_config_backend_from_string(
            out: *mut *mut raw::git_config_backend,
            cfg: *const c_char,
            len: usize,
            opts: *const c_void,
        ) -> c_int;
    }
    let last_error = || {
        // SAFETY: git_error_last returns null or a valid error with a NUL-terminated message.
        let msg = unsafe {
            let e = raw::git_error_last();
            if e.is_null() || (*e).message.is_null() {
                "failed to parse config".to_string()
            } else {
                CStr::from_ptr((*e).message).to_string_lossy().into_owned()
            }
        };
        msg.replace("(in in-memory:", &format!("(in {}:", origin.display()))
    };
    raw::init();
    let mut out = Vec::new();
    // SAFETY: each pointer is checked after the call that sets it and freed exactly once:
    // the backend by its own `free` if adding it failed, else with the config; entries are
    // borrowed from the iterator and copied before the next call.
    unsafe {
        let mut cfg: *mut raw::git_config = ptr::null_mut();
        if raw::git_config_new(&mut cfg) < 0 {
            return Err(last_error());
        }
        let mut backend: *mut raw::git_config_backend = ptr::null_mut();
        if git_config_backend_from_string(
            &mut backend,
            text.as_ptr().cast(),
            text.len(),
            ptr::null(),
        ) < 0
        {
            raw::git_config_free(cfg);
            return Err(last_error());
        }
        if raw::git_config_add_backend(cfg, backend, raw::GIT_CONFIG_LEVEL_LOCAL, ptr::null(), 0)
            < 0
        {
            let e = last_error();
            if let Some(free) = (*backend).free {
                free(backend);
            }
            raw::git_config_free(cfg);
            return Err(e);
        }
        let mut iter: *mut raw::git_config_iterator = ptr::null_mut();
        if raw::git_config_iterator_new(&mut iter, cfg) < 0 {
            let e = last_error();
            raw::git_config_free(cfg);
            return Err(e);
        }
        let mut entry: *mut raw::git_config_entry = ptr::null_mut();
        while raw::git_config_next(&mut entry, iter) == 0 {
            if entry.is_null() || (*entry).name.is_null() {
                continue;
            }
            let name = CStr::from_ptr((*entry).name).to_string_lossy();
            let value = (!(*entry).value.is_null())
                .then(|| CStr::from_ptr((*entry).value).to_string_lossy());
            out.extend(Entry::from_name(&name, value.as_deref()));
        }
        raw::git_config_iterator_free(iter);
        raw::git_config_free(cfg);
    }
    Ok(out)
}

/// The parts of a URL that git's config URL matching looks at, by git's urlmatch rules (not Go's
/// `url.Parse`, which credentials' `GoUrl` reproduces for byte-exact `.git-credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Lower-case host.
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path including the leading `/` (may be empty).
    pub path: String,
}

impl ParsedUrl {
    /// Parses `scheme://[user[:pass]@]host[:port][/path]`; `None` for other forms.
    pub fn parse(url: &str) -> Option<ParsedUrl> {
        let (scheme, rest) = url.split_once("://")?;
        if scheme.is_empty() {
            return None;
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(ui)), None),
            },
            None => (None, None),
        };
        let (host, port) = split_host_port(hostport);
        Some(ParsedUrl {
            scheme: scheme.to_ascii_lowercase(),
            user,
            password,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// The port, or the scheme's default.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            "ssh" => Some(22),
            "git" => Some(9418),
            _ => None,
        })
    }

    /// `host[:port]` as the credential protocol names it.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Splits `host:port` / `[v6]:port`.
pub fn split_host_port(hostport: &str) -> (String, Option<u16>) {
    if let Some(stripped) = hostport.strip_prefix('[')
        && let Some(end) = stripped.find(']')
    {
        let host = stripped[..end].to_string();
        let port = stripped[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        return (host, port);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h.to_string(), p.parse().ok())
        }
        Some((h, "")) => (h.to_string(), None),
        _ => (hostport.to_string(), None),
    }
}

/// `%XX` decoding (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// git's urlmatch of a config subsection URL against a request URL.
fn url_matches(pattern: &str, target: &ParsedUrl) -> bool {
    let Some(p) = ParsedUrl::parse(pattern) else {
        return false;
    };
    if p.scheme != target.scheme {
        return false;
    }
    if let Some(u) = &p.user
        && target.user.as_ref() != Some(u)
    {
        return false;
    }
    if !host_matches(&p.host, &target.host) || p.effective_port() != target.effective_port() {
        return false;
    }
    let pp = p.path.trim_end_matches('/');
    if pp.is_empty() {
        return true;
    }
    let tp = target.path.as_str();
    tp == pp || (tp.starts_with(pp) && tp.as_bytes().get(pp.len()) == Some(&b'/'))
}

/// Host matching with git's `*` wildcard per dot-separated label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let pl: Vec<&str> = pattern.split('.').collect();
    let hl: Vec<&str> = host.split('.').collect();
    pl.len() == hl.len()
        && pl
            .iter()
            .zip(hl.iter())
            .all(|(p, h)| *p == "*" || p.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_without_a_value_are_read_not_panicked_on() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config");
        std::fs::write(&p, "[http]\n\tsslVerify\n[Core \"Sub\"]\n\tK = v\n").unwrap();
        let expected = vec![
            Entry {
                section: "http".into(),
                subsection: None,
                key: "sslverify".into(),
                value: None,
            },
            Entry {
                section: "core".into(),
                subsection: Some("Sub".into()),
                key: "k".into(),
                value: Some("v".into()),
            },
        ];
        assert_eq!(read_entries(&p), expected);
        assert_eq!(
            parse_entries(&std::fs::read(&p).unwrap(), &p).unwrap(),
            expected
        );
    }

    #[test]
    fn urls() {
        let u = ParsedUrl::parse("https://us%40r:p%3Ass@GitHub.com:8443/org/repo").unwrap();
        assert_eq!(u.user.as_deref(), Some("us@r"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!((u.host.as_str(), u.port), ("github.com", Some(8443)));
        assert_eq!(u.path, "/org/repo");
        let t = ParsedUrl::parse("https://github.com/org/repo1").unwrap();
        assert!(url_matches("https://github.com", &t));
        assert!(url_matches("https://github.com/org", &t));
        assert!(!url_matches("https://github.com/org/repo", &t));
        assert!(url_matches("https://*.com/", &t));
        assert!(!url_matches("http://github.com", &t));
    }

    #[test]
    fn insteadof_and_safe_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cfg");
        std::fs::write(
            &f,
            "[url \"ssh://alias/org/repo.git\"]\n\tinsteadOf = git@github.com:org/repo.git\n[url \"https://x/\"]\n\tinsteadOf = git@github.com:\n",
        )
        .unwrap();
        let cfg = GlobalConfig {
            entries: read_entries(&f),
            write_path: Some(f.clone()),
            home: None,
        };
        assert_eq!(
            cfg.rewrite_url("git@github.com:org/repo.git"),
            "ssh://alias/org/repo.git"
        );
        assert_eq!(cfg.rewrite_url("git@github.com:a/b"), "https://x/a/b");
        cfg.add_safe_directory("/w/out/").unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("directory = /w/out/"), "{text}");
    }
}
