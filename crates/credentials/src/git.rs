//! Git credentials: `-basic-git` → `.gitconfig` + `.git-credentials`, `-ssh-git` → `.ssh/*`
//! plus `url.<alias>.insteadOf` blocks appended to `.gitconfig`.

use std::path::Path;

use goflag::go_quote;

use crate::fsutil;
use crate::gourl::{self, GoUrl};

/// One `-basic-git` entry (secret files already read).
#[derive(Debug, Clone)]
pub struct BasicEntry {
    pub url: String,
    pub username: String,
    pub password: String,
    pub parsed: GoUrl,
}

impl BasicEntry {
    pub fn new(url: &str, username: String, password: String) -> Result<Self, String> {
        let parsed = gourl::parse(url)?;
        Ok(BasicEntry {
            url: url.to_string(),
            username,
            password,
            parsed,
        })
    }

    /// `useHttpPath` is needed when the URL names a repository, not just a host.
    fn has_path(&self) -> bool {
        !self.parsed.path.is_empty() && self.parsed.path != b"/"
    }

    fn config_block(&self) -> String {
        let mut block = format!(
            "[credential {}]\n\tusername = {}\n",
            go_quote(&self.url),
            self.username.replace('\\', "\\\\")
        );
        if self.has_path() {
            block.push_str("\tuseHttpPath = true\n");
        }
        block
    }
}

/// `.gitconfig` of the basic writer: entries in flag order.
pub fn basic_gitconfig(entries: &[BasicEntry]) -> String {
    let mut out = String::from("[credential]\n\thelper = store\n");
    for e in entries {
        out.push_str(&e.config_block());
    }
    out
}

/// `.git-credentials`: host-wide entries first (fallbacks), then repository ones, stable.
pub fn git_credentials(entries: &[BasicEntry]) -> String {
    let mut ordered: Vec<&BasicEntry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.has_path());
    let mut out = String::new();
    for e in ordered {
        out.push_str(&e.parsed.string_with_password(&e.username, &e.password));
        out.push('\n');
    }
    out
}

/// One key for an `-ssh-git` value.
#[derive(Debug, Clone)]
pub struct SshEntry {
    pub secret: String,
    pub private_key: String,
    pub known_hosts: String,
}

/// Splits `host[:port][/repo/path]` like upstream: the path starts at the first `/`, the rest
/// goes through Go's `net.SplitHostPort`, falling back to port 22.
pub fn parse_ssh_url(raw: &str) -> (String, String, String) {
    let (hostport, path) = match raw.find('/') {
        Some(i) => (&raw[..i], &raw[i..]),
        None => (raw, ""),
    };
    match split_host_port(hostport) {
        Some((h, p)) => (h.to_string(), p.to_string(), path.to_string()),
        None => (hostport.to_string(), "22".to_string(), path.to_string()),
    }
}

/// Go's `net.SplitHostPort`, `None` where Go returns an error.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

/// `github.com` + `/org/repo` → `github.com--org--repo`.
pub fn ssh_host_alias(host: &str, path: &str) -> String {
    // Go's TrimPrefix removes one leading slash only (`//x` keeps one: `host----x`).
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    format!("{host}--{}", trimmed.replace('/', "--"))
}

fn instead_of_blocks(alias: &str, host: &str, port: &str, path: &str) -> String {
    let p = path.strip_prefix('/').unwrap_or(path);
    let mut out = format!("[url \"git@{alias}:{p}.git\"]\n\tinsteadOf = git@{host}:{p}.git\n");
    if port == "22" {
        out.push_str(&format!(
            "[url \"ssh://{alias}/{p}.git\"]\n\tinsteadOf = ssh://{host}/{p}.git\n"
        ));
    } else {
        out.push_str(&format!(
            "[url \"ssh://{alias}/{p}.git\"]\n\tinsteadOf = ssh://{host}:{port}/{p}.git\n"
        ));
    }
    out
}

/// What the ssh writer produces, before touching the disk.
#[derive(Debug, Default, PartialEq)]
pub struct SshFiles {
    /// `(file name, private key)` in write order.
    pub keys: Vec<(String, String)>,
    pub config: String,
    /// `None` when no entry has known hosts.
    pub known_hosts: Option<String>,
    pub gitconfig_append: String,
}

/// Renders the ssh files for `order` (distinct values, first-seen order) and their keys.
pub fn ssh_files(ssh_dir: &Path, order: &[(String, Vec<SshEntry>)]) -> SshFiles {
    let mut sorted: Vec<&(String, Vec<SshEntry>)> = order.iter().collect();
    // Host-wide values first so they act as fallbacks.
    sorted.sort_by_key(|(value, _)| !parse_ssh_url(value).2.is_empty());
    let mut files = SshFiles::default();
    let mut known = Vec::new();
    for (value, entries) in sorted {
        let (host, port, path) = parse_ssh_url(value);
        let ssh_host = if path.is_empty() {
            host.clone()
        } else {
            let alias = ssh_host_alias(&host, &path);
            files
                .gitconfig_append
                .push_str(&instead_of_blocks(&alias, &host, &port, &path));
            alias
        };
        files.config.push_str(&format!(
            "Host {ssh_host}\n    HostName {host}\n    Port {port}\n"
        ));
        for e in entries {
            let name = format!("id_{}", e.secret);
            files.config.push_str(&format!(
                "    IdentityFile {}\n",
                ssh_dir.join(&name).display()
            ));
            files.keys.push((name, e.private_key.clone()));
            if !e.known_hosts.is_empty() {
                known.push(e.known_hosts.as_str());
            }
        }
    }
    if !known.is_empty() {
        files.known_hosts = Some(known.join("\n"));
    }
    files
}

/// The git part of the write phase: basic (truncating `.gitconfig`), then ssh (appending).
pub fn write(
    dir: &Path,
    basic: &[BasicEntry],
    ssh: &[(String, Vec<SshEntry>)],
) -> Result<(), String> {
    if !basic.is_empty() {
        fsutil::write_file_replace(&dir.join(".gitconfig"), basic_gitconfig(basic).as_bytes())?;
        fsutil::write_file_replace(
            &dir.join(".git-credentials"),
            git_credentials(basic).as_bytes(),
        )?;
    }
    if ssh.is_empty() {
        return Ok(());
    }
    let ssh_dir = dir.join(".ssh");
    fsutil::ensure_real_dir(&ssh_dir, 0o777)?;
    let files = ssh_files(&ssh_dir, ssh);
    for (name, key) in &files.keys {
        fsutil::write_file_replace(&ssh_dir.join(name), key.as_bytes())?;
    }
    fsutil::write_file_replace(&ssh_dir.join("config"), files.config.as_bytes())?;
    if let Some(kh) = &files.known_hosts {
        fsutil::write_file_replace(&ssh_dir.join("known_hosts"), kh.as_bytes())?;
    }
    if !files.gitconfig_append.is_empty() {
        let path = dir.join(".gitconfig");
        let mut content = fsutil::read_own_file(&path)?;
        content.extend_from_slice(files.gitconfig_append.as_bytes());
        fsutil::write_file_replace(&path, &content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ssh_url_table() {
        let t = |s: &str| parse_ssh_url(s);
        let v = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(t("github.com"), v("github.com", "22", ""));
        assert_eq!(t("github.com:2222"), v("github.com", "2222", ""));
        assert_eq!(t("github.com/org/repo"), v("github.com", "22", "/org/repo"));
        assert_eq!(
            t("github.com:2222/org/repo"),
            v("github.com", "2222", "/org/repo")
        );
        assert_eq!(t("gitlab.example.com"), v("gitlab.example.com", "22", ""));
        assert_eq!(
            t("gitlab.example.com:3333/team/project"),
            v("gitlab.example.com", "3333", "/team/project")
        );
        assert_eq!(t("[::1]:22"), v("::1", "22", ""));
        assert_eq!(t("[::1]"), v("[::1]", "22", ""));
        assert_eq!(t("a:b:c"), v("a:b:c", "22", ""));
        assert_eq!(t("host:"), v("host", "", ""));
        assert_eq!(t("ssh://github.com"), v("ssh", "", "//github.com"));
    }

    #[test]
    fn alias() {
        assert_eq!(
            ssh_host_alias("github.com", "/org/repo"),
            "github.com--org--repo"
        );
        assert_eq!(ssh_host_alias("ssh", "//h/x"), "ssh----h--x");
        assert_eq!(
            instead_of_blocks("ssh----h--x", "ssh", "", "//h/x"),
            "[url \"git@ssh----h--x:/h/x.git\"]\n\tinsteadOf = git@ssh:/h/x.git\n\
             [url \"ssh://ssh----h--x//h/x.git\"]\n\tinsteadOf = ssh://ssh://h/x.git\n"
        );
    }
}
