//! `git submodule update --recursive --init --force [--depth=N] [<paths>…]` with libgit2.
//!
//! Each submodule gets git's layout: `submodule.<name>.url/active` in the superproject's
//! config, the repository in `.git/modules/<name>` with a relative `core.worktree`, a
//! `<path>/.git` file pointing at it, the recorded commit checked out detached. Relative URLs
//! resolve against the superproject's URL; local (`file`) URLs are refused unless
//! `protocol.file.allow=always`, as git does since 2.38.1.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use git2::{Oid, Repository, RepositoryInitOptions};

use gocompat::files;

use crate::checkout::{Target, checkout};
use crate::config::{self, Entry};
use crate::error::GitError;
use crate::fetch::{FetchRequest, Session, fetch, has_object, is_local_url};
use crate::fresh_checkout::{MODE_GITLINK, MODE_TREE};
use crate::pathcheck;
use crate::zap::callers;

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
    let found = discover(repo, &workdir).map_err(&fail)?;
    // git prints these on stderr and carries on; upstream shows them only in a failure's
    // output, git-init also logs them.
    for w in &found.warnings {
        s.log.warn(callers().progress, w);
    }
    let warned: String = found
        .warnings
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect();
    let submodules = found.submodules;
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
        let no_url = || GitError {
            output: format!(
                "{warned}fatal: No url found for submodule path '{path}' in .gitmodules\n"
            ),
            ..fail(String::new())
        };
        let (Some(name), Some(raw_url)) = (sm.name, sm.url) else {
            return Err(no_url());
        };
        let url = resolve_url(&raw_url, base_url).map_err(&fail)?;
        let worktree = workdir.join(&path);
        let refuse = |output: String| GitError {
            args: u.args.clone(),
            output,
            status: 128,
            transient: false,
        };
        no_symlink_on_the_way(&workdir, &path).map_err(|e| refuse(format!("error: {e}\n")))?;
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
        let modules = repo.path().join("modules");
        let gitdir = modules.join(&name);
        not_inside_another_gitdir(&modules, &name).map_err(|inner| {
            refuse(format!(
                "error: submodule git dir '{}' is inside git dir '{}'\nfatal: refusing to create/use '{}' in another submodule's git dir\n",
                gitdir.display(),
                inner.display(),
                gitdir.display()
            ))
        })?;
        gitdir_not_through_symlink(repo.path(), &name)
            .map_err(|e| refuse(format!("error: {e}\n")))?;
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
        checkout(&sub, &Target::Detached(oid)).map_err(|e| GitError {
            args: u.args.clone(),
            output: format!(
                "{}fatal: Unable to checkout '{oid}' in submodule path '{path}'\n",
                e.output()
            ),
            status: 128,
            transient: false,
        })?;
        update_level(s, &sub, &url, u, false)?;
    }
    Ok(())
}

/// git's `validate_submodule_path`: neither the submodule's directory nor a directory on the
/// way to it may be a symlink (which would send the clone and its `.git` file elsewhere).
/// Missing components are fine: they are created as directories.
fn no_symlink_on_the_way(workdir: &Path, path: &str) -> Result<(), String> {
    match first_symlink(workdir, path) {
        None => Ok(()),
        Some(at) if at == path => Err(format!(
            "expected submodule path '{path}' not to be a symbolic link"
        )),
        Some(at) => Err(format!(
            "expected '{at}' in submodule path '{path}' not to be a symbolic link"
        )),
    }
}

/// The same for `.git/modules/<name>` (stricter than git, which follows a symlink there): a
/// reused volume may hold one that an earlier Task left.
fn gitdir_not_through_symlink(git_dir: &Path, name: &str) -> Result<(), String> {
    match first_symlink(git_dir, &format!("modules/{name}")) {
        None => Ok(()),
        Some(at) => Err(format!(
            "expected '{}' in submodule git dir '{}' not to be a symbolic link",
            git_dir.join(at).display(),
            git_dir.join("modules").join(name).display()
        )),
    }
}

/// The first leading part of `rel` (`/`-separated, below `base`) that is a symlink.
fn first_symlink(base: &Path, rel: &str) -> Option<String> {
    let mut at = base.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(parts[..=i].join("/"));
        }
    }
    None
}

/// git's check that a submodule's git directory is not inside another one's (names `a` and
/// `a/hooks` would make the second the hooks directory of the first): `Err` names the git
/// directory it would be inside.
fn not_inside_another_gitdir(modules: &Path, name: &str) -> Result<(), PathBuf> {
    let mut at = modules.to_path_buf();
    let parts: Vec<&str> = name.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        if at.join("HEAD").is_file() && at.join("objects").is_dir() {
            return Err(at);
        }
    }
    Ok(())
}

/// The submodules of a tree and what git warned about while reading `.gitmodules`.
struct Discovered {
    submodules: Vec<Submodule>,
    /// git's `warning:` texts (without the prefix), in the order found.
    warnings: Vec<String>,
}

/// A submodule as `git submodule update` sees it after `checkout -f`.
#[derive(Debug, PartialEq, Eq)]
struct Submodule {
    /// From `.gitmodules`; `None` when no entry gives this path (git: "No url found").
    name: Option<String>,
    path: String,
    /// The commit recorded in the superproject (its gitlink).
    oid: Oid,
    /// `submodule.<name>.url` from the repository's config, else from `.gitmodules`.
    url: Option<String>,
}

/// The entries of the work tree's `.gitmodules`, read as every outside file is: bounded
/// ([`files::MAX_CONFIG_BYTES`], the bound of the other git config files git-init reads) and
/// parsed from memory, so no `include.path` is followed (git ignores includes there too).
/// Absent (no entries) when missing, a directory, or a symlink —
/// checkout never writes `.gitmodules` as one, but a reused work tree may hold one pointing
/// anywhere. A FIFO, device or socket and a file over the bound are refused with one line,
/// `read <path>: not a regular file (fifo)` / `read <path>: larger than <n> bytes`; git would
/// block on the FIFO or read without end.
fn read_gitmodules(path: &Path) -> Result<Vec<Entry>, String> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Vec::new()),
        Err(e) => return Err(files::ReadError::Io("open", e).text(path)),
    };
    match files::read_opened_bounded(file, files::MAX_CONFIG_BYTES) {
        Ok(text) => config::parse_entries(&text, path),
        Err(files::ReadError::Io(_, e)) if e.raw_os_error() == Some(libc::EISDIR) => Ok(Vec::new()),
        Err(e) => Err(e.text(path)),
    }
}

/// The gitlinks of HEAD's tree, named and with URLs from `.gitmodules` and the config,
/// sorted by name. After `checkout -f` the index holds the same gitlinks; reading them from
/// the tree avoids loading the whole index (~2.5 MiB at 20k files) as libgit2's submodule
/// listing does.
///
/// `.gitmodules` is read as git's submodule-config reads it: an entry with a suspicious name
/// ([`pathcheck::check_submodule_name`]) is ignored whole, a `path` or `url` that looks like a
/// command-line option is ignored, each with git's warning.
fn discover(repo: &Repository, workdir: &Path) -> Result<Discovered, String> {
    let mut found = Discovered {
        submodules: Vec::new(),
        warnings: Vec::new(),
    };
    // No commit checked out: no gitlinks, nothing to update.
    let Ok(head) = repo.head() else {
        return Ok(found);
    };
    let message = |e: git2::Error| e.message().to_string();
    let tree = head.peel_to_tree().map_err(message)?;
    let mut links = Vec::new();
    gitlinks(repo, &tree, &mut String::new(), &mut links).map_err(message)?;
    if links.is_empty() {
        return Ok(found);
    }
    let modules = read_gitmodules(&workdir.join(".gitmodules"))?;
    // (path, name) of each usable `submodule.<name>.path`, and usable URLs by name.
    let mut names: Vec<(String, String)> = Vec::new();
    let mut urls: Vec<(String, String)> = Vec::new();
    let mut suspicious: Vec<String> = Vec::new();
    let items = modules
        .iter()
        .filter_map(|e| match (&e.subsection, &e.value) {
            (Some(name), Some(value))
                if e.section == "submodule" && (e.key == "path" || e.key == "url") =>
            {
                Some((name, e.key.as_str(), value))
            }
            _ => None,
        });
    for (name, item, value) in items {
        let key = format!("submodule.{name}.{item}");
        if !pathcheck::check_submodule_name(name) {
            if !suspicious.iter().any(|n| n == name) {
                suspicious.push(name.to_string());
                found
                    .warnings
                    .push(format!("ignoring suspicious submodule name: {name}"));
            }
            continue;
        }
        if pathcheck::looks_like_command_line_option(value) {
            found.warnings.push(format!(
                "ignoring '{key}' which may be interpreted as a command-line option: {value}"
            ));
            continue;
        }
        if item == "path" {
            names.push((value.trim_end_matches('/').to_string(), name.to_string()));
        } else {
            urls.push((name.to_string(), value.to_string()));
        }
    }
    let config = repo.config().map_err(message)?;
    found.submodules = links
        .into_iter()
        .map(|(path, oid)| {
            let name = names
                .iter()
                .rev()
                .find(|(p, _)| *p == path)
                .map(|(_, n)| n.clone());
            // The superproject's config wins over `.gitmodules`, as after `submodule init`.
            let url = name.as_ref().and_then(|n| {
                config
                    .get_string(&format!("submodule.{n}.url"))
                    .ok()
                    .filter(|u| !pathcheck::looks_like_command_line_option(u))
                    .or_else(|| {
                        urls.iter()
                            .rev()
                            .find(|(un, _)| un == n)
                            .map(|(_, u)| u.clone())
                    })
            });
            Submodule {
                name,
                path,
                oid,
                url,
            }
        })
        .collect();
    found.submodules.sort_by(|a, b| a.name.cmp(&b.name));
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
    // Never through a symlink left at `<path>/.git`.
    let dot_git = worktree.join(".git");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&dot_git)
        .and_then(|mut f| f.write_all(gitfile.as_bytes()))
        .map_err(|e| format!("could not write '{}': {e}", dot_git.display()))?;
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

/// git's `relative_url`, used by `submodule init` for `./` and `../` URLs: each `../` drops
/// the superproject URL's last `/`-component, or what follows its last `:` (scp-like), and a
/// relative superproject URL that runs out fails as in git. `Err` is git's `fatal:` text.
pub fn resolve_url(url: &str, base: &str) -> Result<String, String> {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return Ok(url.to_string());
    }
    let mut remote = base.strip_suffix('/').unwrap_or(base).to_string();
    let is_relative = local_not_ssh(&remote) && !remote.starts_with('/');
    if is_relative && !remote.starts_with("./") && !remote.starts_with("../") {
        remote.insert_str(0, "./");
    }
    let mut rest = url;
    let mut colonsep = false;
    loop {
        if let Some(r) = rest.strip_prefix("../") {
            rest = r;
            if let Some(i) = remote.rfind('/') {
                remote.truncate(i);
            } else if let Some(i) = remote.rfind(':') {
                remote.truncate(i);
                colonsep = true;
            } else if is_relative || remote == "." {
                return Err(format!("cannot strip one component off url '{remote}'"));
            } else {
                remote = ".".to_string();
            }
        } else if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else {
            break;
        }
    }
    let mut out = format!("{remote}{}{rest}", if colonsep { ":" } else { "/" });
    if rest.ends_with('/') {
        out.pop();
    }
    Ok(match out.strip_prefix("./") {
        Some(o) => o.to_string(),
        None => out,
    })
}

/// git's `url_is_local_not_ssh`: no `:` before the first `/`.
fn local_not_ssh(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (None, _) => true,
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitmodules_reads_are_bounded() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let p = d.join(".gitmodules");
        // A sparse 10 GiB file: refused from its size, nothing read.
        std::fs::File::create(&p)
            .unwrap()
            .set_len(10 << 30)
            .unwrap();
        assert_eq!(
            read_gitmodules(&p).unwrap_err(),
            format!("read {}: larger than 16777216 bytes", p.display())
        );
        std::fs::remove_file(&p).unwrap();
        // A FIFO nobody writes to: refused without blocking.
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_gitmodules(&p).unwrap_err(),
            format!("read {}: not a regular file (fifo)", p.display())
        );
        std::fs::remove_file(&p).unwrap();
        // Missing, a directory, a symlink (even to /dev/zero): absent, as before.
        assert_eq!(read_gitmodules(&p), Ok(Vec::new()));
        std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
        assert_eq!(read_gitmodules(&p), Ok(Vec::new()));
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert_eq!(read_gitmodules(&p), Ok(Vec::new()));
    }

    #[test]
    fn gitmodules_is_parsed_as_libgit2_parses_config_files_without_includes() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let p = d.join(".gitmodules");
        let other = d.join("other");
        std::fs::write(&other, "[submodule \"evil\"]\n\turl = /x\n").unwrap();
        let text = format!(
            "[submodule \"a.B\"]\n\tPath = \"s m\" ; comment\n\turl = ../a\\\n.git\n[include]\n\tpath = {}\n[submodule.old]\n\tpath\n",
            other.display()
        );
        std::fs::write(&p, &text).unwrap();
        let got = read_gitmodules(&p).unwrap();
        // Compared with libgit2's reading of the same file, include aside.
        let cfg = git2::Config::open(&p).unwrap();
        let mut from_file = Vec::new();
        let mut it = cfg.entries(None).unwrap();
        while let Some(e) = it.next() {
            let e = e.unwrap();
            if e.include_depth() == 0 {
                let value = if e.has_value() { e.value() } else { None };
                from_file.push((e.name().unwrap().to_string(), value.map(String::from)));
            }
        }
        let shown: Vec<_> = got
            .iter()
            .map(|e| {
                let name = match &e.subsection {
                    Some(s) => format!("{}.{s}.{}", e.section, e.key),
                    None => format!("{}.{}", e.section, e.key),
                };
                (name, e.value.clone())
            })
            .collect();
        assert_eq!(shown, from_file);
        assert!(shown.contains(&("submodule.a.B.path".into(), Some("s m".into()))));
        assert!(shown.contains(&("submodule.a.B.url".into(), Some("../a.git".into()))));
        assert!(shown.iter().all(|(n, _)| !n.contains("evil")));
        // Parse errors name the file, as libgit2's file reader does.
        std::fs::write(&p, "[submodule \"x\"\n").unwrap();
        let err = read_gitmodules(&p).unwrap_err();
        assert!(err.contains(&format!("(in {}:1", p.display())), "{err}");
        assert_eq!(
            err.replace(&p.display().to_string(), "P"),
            git2::Config::open(&p)
                .err()
                .unwrap()
                .message()
                .replace(&p.display().to_string(), "P")
        );
    }

    #[test]
    fn submodule_paths_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let w = t.path();
        std::fs::create_dir_all(w.join("real/dir")).unwrap();
        std::os::unix::fs::symlink("/", w.join("link")).unwrap();
        std::os::unix::fs::symlink("/", w.join("real/sm")).unwrap();
        assert_eq!(no_symlink_on_the_way(w, "real/dir/sm"), Ok(()));
        assert_eq!(no_symlink_on_the_way(w, "missing/sm"), Ok(()));
        assert_eq!(
            no_symlink_on_the_way(w, "link/sm"),
            Err("expected 'link' in submodule path 'link/sm' not to be a symbolic link".into())
        );
        assert_eq!(
            no_symlink_on_the_way(w, "real/sm"),
            Err("expected submodule path 'real/sm' not to be a symbolic link".into())
        );
    }

    #[test]
    fn submodule_git_dirs_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let g = t.path();
        std::fs::create_dir_all(g.join("modules/a")).unwrap();
        std::os::unix::fs::symlink("/", g.join("modules/l")).unwrap();
        assert_eq!(gitdir_not_through_symlink(g, "a/b"), Ok(()));
        assert_eq!(
            gitdir_not_through_symlink(g, "l/b"),
            Err(format!(
                "expected '{0}/modules/l' in submodule git dir '{0}/modules/l/b' not to be a symbolic link",
                g.display()
            ))
        );
    }

    #[test]
    fn git_dirs_inside_git_dirs() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path();
        std::fs::create_dir_all(m.join("a/objects")).unwrap();
        std::fs::write(m.join("a/HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(not_inside_another_gitdir(m, "a"), Ok(()));
        assert_eq!(not_inside_another_gitdir(m, "b/hooks"), Ok(()));
        assert_eq!(not_inside_another_gitdir(m, "a/hooks"), Err(m.join("a")));
        assert_eq!(not_inside_another_gitdir(m, "a/x/y"), Err(m.join("a")));
    }

    #[test]
    fn relative_urls() {
        let ok = |url: &str, base: &str| resolve_url(url, base).unwrap();
        assert_eq!(
            ok("../sub.git", "git://127.0.0.1:9/super.git"),
            "git://127.0.0.1:9/sub.git"
        );
        assert_eq!(
            ok("./sub", "https://h/org/super/"),
            "https://h/org/super/sub"
        );
        assert_eq!(ok("../b", "git@h:org/a"), "git@h:org/b");
        assert_eq!(ok("https://x/y", "whatever"), "https://x/y");
        assert_eq!(ok("../s", "/tmp/r/super"), "/tmp/r/s");
        assert_eq!(ok("./s/", "/tmp/r"), "/tmp/r/s");
        assert_eq!(ok("../s", "rel/super"), "rel/s");
    }

    #[test]
    fn relative_urls_that_climb_too_far_resolve_as_in_git() {
        let ok = |url: &str, base: &str| resolve_url(url, base).unwrap();
        // Past the host: what is left of the scheme, as git 2.39 computes it (checked with
        // `git submodule init`).
        assert_eq!(ok("../../../x", "https://h/super"), "https:/x");
        assert_eq!(ok("../../../../x", "https://h/super"), "https:x");
        assert_eq!(ok("../../x", "git@h:a"), ".:x");
        assert_eq!(ok("../../../x", "/tmp/r"), "x");
        assert_eq!(ok("../../x", "rel/super"), "x");
        assert_eq!(
            resolve_url("../../../x", "rel/super"),
            Err("cannot strip one component off url '.'".to_string())
        );
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
