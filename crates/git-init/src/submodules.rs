//! `git submodule update --recursive --init --force [--depth=N] [<paths>…]` with libgit2.
//!
//! Each submodule gets git's layout: `submodule.<name>.url/active` in the superproject's
//! config, the repository in `.git/modules/<name>` with a relative `core.worktree`, a
//! `<path>/.git` file pointing at it, the recorded commit checked out detached. Relative URLs
//! resolve against the superproject's URL; local (`file`) URLs are refused unless
//! `protocol.file.allow=always`, as git does since 2.38.1.

use std::path::{Component, Path, PathBuf};

use git2::{Oid, Repository, RepositoryInitOptions};

use crate::checkout::{Target, checkout};
use crate::error::GitError;
use crate::fetch::{FetchRequest, Session, fetch, has_object, is_local_url};
use crate::fresh_checkout::{MODE_GITLINK, MODE_TREE};

/// Options of one `submodule update` run.
pub struct Update<'a> {
    pub depth: u64,
    /// Top-level pathspecs (`-submodulePaths`); empty = all.
    pub paths: &'a [String],
    /// The argv upstream runs (for error messages).
    pub args: Vec<String>,
}

/// Updates the submodules of `repo` (whose origin URL is `base_url`) recursively.
pub fn update(
    s: &Session<'_>,
    repo: &Repository,
    base_url: &str,
    u: &Update<'_>,
) -> Result<(), GitError> {
    update_level(s, repo, base_url, u, true)
}

fn update_level(
    s: &Session<'_>,
    repo: &Repository,
    base_url: &str,
    u: &Update<'_>,
    top: bool,
) -> Result<(), GitError> {
    let fail = |msg: String| GitError::fatal(u.args.clone(), &msg);
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Ok(());
    };
    let submodules = discover(repo, &workdir).map_err(|e| fail(e.message().to_string()))?;
    let sparse = crate::checkout::sparse_patterns(repo);
    for sm in submodules {
        let path = sm.path;
        if top && !u.paths.is_empty() && !u.paths.iter().any(|p| pathspec_matches(p, &path)) {
            continue;
        }
        let oid = sm.oid;
        // Outside the sparse patterns: skip-worktree in the index, not checked out.
        if sparse.as_ref().is_some_and(|p| !p.includes(&path, true)) {
            continue;
        }
        let name = sm.name;
        let raw_url = sm.url.ok_or_else(|| {
            fail(format!(
                "No url found for submodule path '{path}' in .gitmodules"
            ))
        })?;
        let url = resolve_url(&raw_url, base_url);
        let worktree = workdir.join(&path);
        if is_local_url(&url) && !file_protocol_allowed(s) {
            let shown = worktree.display();
            return Err(GitError {
                args: u.args.clone(),
                output: format!(
                    "Cloning into '{shown}'...\nfatal: transport 'file' not allowed\nfatal: clone of '{url}' into submodule path '{shown}' failed\nFailed to clone '{path}' a second time, aborting\n"
                ),
                status: 1,
                transient: false,
            });
        }
        let mut cfg = repo.config().map_err(|e| fail(e.message().to_string()))?;
        cfg.set_str(&format!("submodule.{name}.active"), "true")
            .and_then(|_| cfg.set_str(&format!("submodule.{name}.url"), &url))
            .map_err(|e| fail(e.message().to_string()))?;
        let gitdir = repo.path().join("modules").join(&name);
        let fresh = !gitdir.join("HEAD").exists();
        let sub = open_or_create(&gitdir, &worktree).map_err(&fail)?;
        match sub.find_remote("origin") {
            Ok(_) => sub.remote_set_url("origin", &url),
            Err(_) => sub.remote("origin", &url).map(|_| ()),
        }
        .map_err(|e| fail(e.message().to_string()))?;
        if !has_object(&sub, oid) {
            fetch_commit(s, &sub, &url, oid, &path, &worktree, u, fresh)?;
        }
        checkout(&sub, &Target::Detached(oid)).map_err(|e| {
            fail(format!(
                "Unable to checkout '{oid}' in submodule path '{path}': {}",
                e.message()
            ))
        })?;
        update_level(s, &sub, &url, u, false)?;
    }
    Ok(())
}

/// A submodule as `git submodule update` sees it after `checkout -f`.
#[derive(Debug, PartialEq, Eq)]
struct Submodule {
    name: String,
    path: String,
    /// The commit recorded in the superproject (its gitlink).
    oid: Oid,
    /// `submodule.<name>.url` from the repository's config, else from `.gitmodules`.
    url: Option<String>,
}

/// The gitlinks of HEAD's tree, named and with URLs from `.gitmodules` and the config,
/// sorted by name. After `checkout -f` the index holds the same gitlinks; reading them from
/// the tree avoids loading the whole index (~2.5 MiB at 20k files) as libgit2's submodule
/// listing does.
fn discover(repo: &Repository, workdir: &Path) -> Result<Vec<Submodule>, git2::Error> {
    // No commit checked out: no gitlinks, nothing to update.
    let Ok(head) = repo.head() else {
        return Ok(Vec::new());
    };
    let tree = head.peel_to_tree()?;
    let mut links = Vec::new();
    gitlinks(repo, &tree, &mut String::new(), &mut links)?;
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let modules_file = workdir.join(".gitmodules");
    let modules = if modules_file.is_file() {
        Some(git2::Config::open(&modules_file)?)
    } else {
        None
    };
    // name for each `submodule.<name>.path` in .gitmodules
    let mut names: Vec<(String, String)> = Vec::new();
    if let Some(m) = &modules {
        let mut entries = m.entries(Some(r"^submodule\..*\.path$"))?;
        while let Some(e) = entries.next() {
            let e = e?;
            if let (Some(key), Some(value)) = (e.name(), e.value()) {
                let name = &key["submodule.".len()..key.len() - ".path".len()];
                names.push((value.trim_end_matches('/').to_string(), name.to_string()));
            }
        }
    }
    let config = repo.config()?;
    let mut found: Vec<Submodule> = links
        .into_iter()
        .map(|(path, oid)| {
            let name = names
                .iter()
                .find(|(p, _)| *p == path)
                .map_or_else(|| path.clone(), |(_, n)| n.clone());
            let key = format!("submodule.{name}.url");
            let url = config
                .get_string(&key)
                .ok()
                .or_else(|| modules.as_ref().and_then(|m| m.get_string(&key).ok()));
            Submodule {
                name,
                path,
                oid,
                url,
            }
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Collects `(path, commit)` of every gitlink under `tree`.
fn gitlinks(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    prefix: &mut String,
    out: &mut Vec<(String, Oid)>,
) -> Result<(), git2::Error> {
    for entry in tree.iter() {
        let len = prefix.len();
        prefix.push_str(&String::from_utf8_lossy(entry.name_bytes()));
        match entry.filemode_raw() {
            MODE_GITLINK => out.push((prefix.clone(), entry.id())),
            MODE_TREE => {
                let sub = repo.find_tree(entry.id())?;
                prefix.push('/');
                gitlinks(repo, &sub, prefix, out)?;
            }
            _ => {}
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Fetches the default branch at `depth`, then the commit itself if it was not in there.
/// A fresh clone also gets the default branch, its remote-tracking ref and `origin/HEAD`, as
/// `git clone` leaves them.
#[allow(clippy::too_many_arguments)]
fn fetch_commit(
    s: &Session<'_>,
    sub: &Repository,
    url: &str,
    oid: Oid,
    path: &str,
    worktree: &Path,
    u: &Update<'_>,
    fresh: bool,
) -> Result<(), GitError> {
    let clone_failed = |mut e: GitError| {
        e.args = u.args.clone();
        e.output.push_str(&format!(
            "fatal: clone of '{url}' into submodule path '{}' failed\nFailed to clone '{path}' a second time, aborting\n",
            worktree.display()
        ));
        e
    };
    let req = FetchRequest {
        repo: sub,
        url,
        specs: vec![String::new()],
        depth: u.depth,
        args: u.args.clone(),
    };
    let fetched = fetch(s, &req).map_err(clone_failed)?;
    if fresh
        && let Some(head) = fetched.first()
        && let Some(branch) = head.symref.as_deref()
        && let Some(short) = branch.strip_prefix("refs/heads/")
    {
        clone_layout(sub, short, head.oid, u.depth)
            .map_err(|e| GitError::fatal(u.args.clone(), e.message()))?;
    }
    if has_object(sub, oid) {
        return Ok(());
    }
    let req = FetchRequest {
        specs: vec![oid.to_string()],
        ..req
    };
    fetch(s, &req).map_err(|mut e| {
        e.output.push_str(&format!(
            "fatal: Fetched in submodule path '{path}', but it did not contain {oid}. Direct fetching of that commit failed.\n"
        ));
        e
    })?;
    Ok(())
}

/// The refs and config `git clone [--depth]` creates for the default branch.
fn clone_layout(repo: &Repository, short: &str, tip: Oid, depth: u64) -> Result<(), git2::Error> {
    let tracking = format!("refs/remotes/origin/{short}");
    repo.reference(
        &format!("refs/heads/{short}"),
        tip,
        true,
        "clone: from origin",
    )?;
    repo.reference(&tracking, tip, true, "clone: from origin")?;
    repo.reference_symbolic("refs/remotes/origin/HEAD", &tracking, true, "clone")?;
    repo.set_head(&format!("refs/heads/{short}"))?;
    let mut cfg = repo.config()?;
    cfg.set_str(&format!("branch.{short}.remote"), "origin")?;
    cfg.set_str(
        &format!("branch.{short}.merge"),
        &format!("refs/heads/{short}"),
    )?;
    if depth > 0 {
        cfg.set_str(
            "remote.origin.fetch",
            &format!("+refs/heads/{short}:refs/remotes/origin/{short}"),
        )?;
    }
    Ok(())
}

/// Opens `.git/modules/<name>` or creates it with git's relative links.
fn open_or_create(gitdir: &Path, worktree: &Path) -> Result<Repository, String> {
    std::fs::create_dir_all(worktree)
        .map_err(|e| format!("could not create directory '{}': {e}", worktree.display()))?;
    if !gitdir.join("HEAD").exists() {
        let mut opts = RepositoryInitOptions::new();
        opts.bare(true).mkpath(true);
        let r = Repository::init_opts(gitdir, &opts).map_err(|e| e.message().to_string())?;
        let mut cfg = r.config().map_err(|e| e.message().to_string())?;
        cfg.set_bool("core.bare", false)
            .and_then(|_| {
                cfg.set_str(
                    "core.worktree",
                    &relative_path(gitdir, worktree).to_string_lossy(),
                )
            })
            .map_err(|e| e.message().to_string())?;
    }
    let gitfile = format!(
        "gitdir: {}\n",
        relative_path(worktree, gitdir).to_string_lossy()
    );
    std::fs::write(worktree.join(".git"), gitfile)
        .map_err(|e| format!("could not write '{}': {e}", worktree.join(".git").display()))?;
    Repository::open(worktree).map_err(|e| e.message().to_string())
}

/// `to` relative to the directory `from` (both absolute).
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let (from, to) = (normalize(from), normalize(to));
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(t.iter()).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Lexical normalisation (`.` and `..` removed).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A submodule pathspec: the path itself or a leading directory of it.
fn pathspec_matches(spec: &str, path: &str) -> bool {
    let spec = spec.trim_end_matches('/');
    let spec = spec.strip_prefix("./").unwrap_or(spec);
    spec.is_empty()
        || spec == "."
        || path == spec
        || (path.starts_with(spec) && path.as_bytes().get(spec.len()) == Some(&b'/'))
        || crate::sparse::wildmatch(spec.as_bytes(), path.as_bytes(), true)
}

fn file_protocol_allowed(s: &Session<'_>) -> bool {
    if let Ok(list) = std::env::var("GIT_ALLOW_PROTOCOL") {
        return list.split(':').any(|p| p == "file");
    }
    let level = s
        .cfg
        .get("protocol", "allow")
        .filter(|_| true)
        .map(|v| v.to_ascii_lowercase());
    let file_level = s
        .cfg
        .entries
        .iter()
        .rev()
        .find(|e| {
            e.section == "protocol" && e.subsection.as_deref() == Some("file") && e.key == "allow"
        })
        .and_then(|e| e.value.clone())
        .map(|v| v.to_ascii_lowercase());
    matches!(file_level.or(level).as_deref(), Some("always"))
}

/// git's relative submodule URL resolution (`./x`, `../x` against the superproject URL).
pub fn resolve_url(url: &str, base: &str) -> String {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return url.to_string();
    }
    let mut base = base.trim_end_matches('/').to_string();
    let mut rest = url;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            rest = r;
            // Drop the last component (after '/' or, for scp-like URLs, ':').
            match base.rfind(['/', ':']) {
                Some(i) => {
                    let sep = base.as_bytes()[i];
                    base.truncate(i);
                    if sep == b':' {
                        base.push(':');
                        return format!("{base}{rest}");
                    }
                }
                None => base.clear(),
            }
        } else {
            break;
        }
    }
    if base.is_empty() {
        return rest.to_string();
    }
    format!("{base}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls() {
        assert_eq!(
            resolve_url("../sub.git", "git://127.0.0.1:9/super.git"),
            "git://127.0.0.1:9/sub.git"
        );
        assert_eq!(
            resolve_url("./sub", "https://h/org/super/"),
            "https://h/org/super/sub"
        );
        assert_eq!(resolve_url("../b", "git@h:org/a"), "git@h:org/b");
        assert_eq!(resolve_url("https://x/y", "whatever"), "https://x/y");
        assert_eq!(resolve_url("../s", "/tmp/r/super"), "/tmp/r/s");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/w/r/a/b"), Path::new("/w/r/.git/modules/x")),
            PathBuf::from("../../.git/modules/x")
        );
        assert_eq!(
            relative_path(Path::new("/w/r/.git/modules/x"), Path::new("/w/r/a/b")),
            PathBuf::from("../../../a/b")
        );
    }

    #[test]
    fn pathspecs() {
        assert!(pathspec_matches("js", "js"));
        assert!(pathspec_matches("libs", "libs/a"));
        assert!(!pathspec_matches("lib", "libs/a"));
    }
}
