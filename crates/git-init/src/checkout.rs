//! `git checkout -f <rev>`, including sparse checkout (which libgit2 lacks): only paths the
//! patterns select are written, the others stay in the index with the skip-worktree bit so
//! that `git status` in later steps agrees with the work tree.

use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use gocompat::files;

use crate::fresh_checkout::{self, Plan};
use crate::pathcheck::{self, TreeError};
use crate::sparse::Patterns;

/// `GIT_INDEX_ENTRY_EXTENDED` in `flags`.
const ENTRY_EXTENDED: u16 = 0x4000;
/// `GIT_INDEX_ENTRY_SKIP_WORKTREE` in `flags_extended`.
const ENTRY_SKIP_WORKTREE: u16 = 1 << 14;

/// What `git checkout -f <rev>` resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Detached HEAD at a commit.
    Detached(Oid),
    /// Attach HEAD to a local branch (`refs/heads/<name>`).
    Branch(String, Oid),
}

impl Target {
    pub fn oid(&self) -> Oid {
        match self {
            Target::Detached(o) | Target::Branch(_, o) => *o,
        }
    }
}

/// Resolves `rev` like `git checkout`: a local branch attaches HEAD, anything else that
/// names a commit detaches it; a unique `refs/remotes/*/<rev>` creates the local branch
/// (git's `--guess`). `Err` carries git's `rev-parse` complaint.
pub fn resolve_checkout(repo: &Repository, rev: &str) -> Result<Target, String> {
    let unknown = || {
        format!(
            "ambiguous argument '{rev}': unknown revision or path not in the working tree.\nUse '--' to separate paths from revisions, like this:\n'git <command> [<revision>...] -- [<file>...]'"
        )
    };
    if rev.is_empty() || rev.starts_with('-') {
        return Err(unknown());
    }
    if rev != "FETCH_HEAD"
        && let Ok(r) = repo.find_reference(&format!("refs/heads/{rev}"))
        && let Ok(c) = r.peel_to_commit()
    {
        return Ok(Target::Branch(rev.to_string(), c.id()));
    }
    if rev == "FETCH_HEAD" {
        let text =
            crate::creds::read_config_text(&repo.path().join("FETCH_HEAD")).unwrap_or_default();
        // git resolves FETCH_HEAD to the first line.
        let oid = text
            .lines()
            .next()
            .and_then(|l| l.split('\t').next())
            .and_then(|h| Oid::from_str(h).ok())
            .ok_or_else(unknown)?;
        let commit = repo
            .find_object(oid, None)
            .and_then(|o| o.peel_to_commit())
            .map_err(|_| unknown())?;
        return Ok(Target::Detached(commit.id()));
    }
    match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
        Ok(c) => Ok(Target::Detached(c.id())),
        Err(_) => {
            // git checkout's DWIM: exactly one remote-tracking branch of that name.
            let mut found = Vec::new();
            if let Ok(refs) = repo.references_glob(&format!("refs/remotes/*/{rev}")) {
                for r in refs.flatten() {
                    if let Ok(c) = r.peel_to_commit() {
                        found.push(c.id());
                    }
                }
            }
            if found.len() == 1 {
                let c = repo.find_commit(found[0]).map_err(|_| unknown())?;
                repo.branch(rev, &c, false).map_err(|_| unknown())?;
                Ok(Target::Branch(rev.to_string(), c.id()))
            } else {
                Err(unknown())
            }
        }
    }
}

/// Reads the sparse-checkout patterns when `core.sparseCheckout` is on.
pub fn sparse_patterns(repo: &Repository) -> Option<Patterns> {
    let on = repo
        .config()
        .ok()
        .and_then(|c| c.get_bool("core.sparsecheckout").ok())
        .unwrap_or(false);
    if !on {
        return None;
    }
    let text = crate::creds::read_config_text(&repo.path().join("info/sparse-checkout"))
        .unwrap_or_default();
    Some(Patterns::parse(&text))
}

/// Why `git checkout -f` failed.
#[derive(Debug)]
pub enum CheckoutError {
    /// The tree holds a path git refuses to check out; nothing was written.
    Tree(TreeError),
    /// A work-tree file libgit2 would read unbounded or block on, refused before its checkout.
    Refused(String),
    Git(git2::Error),
}

impl From<git2::Error> for CheckoutError {
    fn from(e: git2::Error) -> Self {
        CheckoutError::Git(e)
    }
}

impl CheckoutError {
    /// git's output for the failure (`error: invalid path 'x'`, `fatal: …`), one line.
    pub fn output(&self) -> String {
        match self {
            CheckoutError::Tree(e) => format!("{e}\n"),
            CheckoutError::Refused(m) => format!("fatal: {m}\n"),
            CheckoutError::Git(e) => format!("fatal: {}\n", e.message()),
        }
    }
}

/// The work-tree files libgit2's checkout reads, checked before it runs: every
/// `.gitattributes` and `.gitignore` (filters and ignore rules of each directory) and the
/// top-level `.gitmodules` (every gitlink is looked up in it). libgit2 reads them unbounded and
/// through symlinks, so in a reused work tree a FIFO there (that the new tree does not
/// replace) would hang the checkout and a sparse 10 GiB file be read whole. Each must be a
/// regular file of at most [`files::MAX_CONFIG_BYTES`] (or a directory, which libgit2 skips);
/// `Err` is gocompat's one line, `read <path>: not a regular file (fifo)` / `read <path>:
/// larger than <n> bytes`. Only `stat`s: nothing is opened. `.git` directories are not entered.
fn files_libgit2_reads(workdir: &Path) -> Result<(), String> {
    let check = |path: &Path| -> Result<(), String> {
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let ft = meta.file_type();
        let refused = if ft.is_file() {
            (meta.len() > files::MAX_CONFIG_BYTES).then_some(files::ReadError::TooLarge {
                limit: files::MAX_CONFIG_BYTES,
            })
        } else if ft.is_dir() {
            None
        } else {
            Some(files::ReadError::NotRegular(files::kind_of(ft)))
        };
        refused.map_or(Ok(()), |e| Err(e.text(path)))
    };
    check(&workdir.join(".gitmodules"))?;
    let mut pending = vec![workdir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name == ".gitattributes" || name == ".gitignore" {
                check(&entry.path())?;
            } else if name != ".git" && entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
    }
    Ok(())
}

/// `git checkout -f <target>`. Every path of the tree is checked against git's rules first
/// ([`pathcheck::verify_tree`]), so neither writer below sees a name git would refuse.
pub fn checkout(repo: &Repository, target: &Target) -> Result<(), CheckoutError> {
    let commit = repo.find_commit(target.oid())?;
    let tree = commit.tree()?;
    pathcheck::verify_tree(repo, &tree, pathcheck::protect_for(repo))
        .map_err(CheckoutError::Tree)?;
    let sparse = sparse_patterns(repo);
    let mut cb = CheckoutBuilder::new();
    cb.force();
    let mut skip: Vec<String> = Vec::new();
    let mut include: Vec<String> = Vec::new();
    if let Some(p) = &sparse {
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let kind = entry.kind();
            if kind == Some(ObjectType::Tree) {
                return TreeWalkResult::Ok;
            }
            let path = format!("{dir}{}", entry.name().unwrap_or(""));
            let is_gitlink = kind == Some(ObjectType::Commit);
            if p.includes(&path, is_gitlink) {
                include.push(path);
            } else {
                skip.push(path);
            }
            TreeWalkResult::Ok
        })?;
        cb.disable_pathspec_match(true);
        for path in &include {
            cb.path(path.as_str());
        }
    }
    let streamed = sparse.is_none()
        && match fresh_checkout::plan(repo, &tree) {
            Plan::Stream(entries) => fresh_checkout::write(repo, &tree, entries).is_ok(),
            Plan::Libgit2 => false,
        };
    if !streamed && (sparse.is_none() || !include.is_empty()) {
        if let Some(workdir) = repo.workdir() {
            files_libgit2_reads(workdir).map_err(CheckoutError::Refused)?;
        }
        repo.checkout_tree(commit.as_object(), Some(&mut cb))?;
    }
    match target {
        Target::Detached(oid) => repo.set_head_detached(*oid)?,
        Target::Branch(name, _) => repo.set_head(&format!("refs/heads/{name}"))?,
    }
    if sparse.is_some() {
        write_sparse_index(repo, &tree, &skip)?;
    }
    Ok(())
}

/// Rewrites the index from `tree`, keeping stat data of checked-out files and marking the
/// paths outside the sparse patterns skip-worktree.
fn write_sparse_index(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    skip: &[String],
) -> Result<(), git2::Error> {
    let mut index = repo.index()?;
    let mut old: std::collections::HashMap<Vec<u8>, git2::IndexEntry> =
        index.iter().map(|e| (e.path.clone(), e)).collect();
    index.read_tree(tree)?;
    let skip: std::collections::HashSet<&[u8]> = skip.iter().map(|s| s.as_bytes()).collect();
    let entries: Vec<git2::IndexEntry> = index.iter().collect();
    for mut e in entries {
        if skip.contains(e.path.as_slice()) {
            e.flags |= ENTRY_EXTENDED;
            e.flags_extended |= ENTRY_SKIP_WORKTREE;
            index.add(&e)?;
        } else if let Some(mut n) = old.remove(&e.path)
            && n.id == e.id
            && n.mode == e.mode
        {
            n.flags = e.flags;
            n.flags_extended = 0;
            index.add(&n)?;
        }
    }
    index.write()
}

/// `git show -q --pretty=format:%D HEAD`: ref names pointing at HEAD's commit.
pub fn decorations(repo: &Repository) -> String {
    let Ok(head) = repo.head() else {
        return String::new();
    };
    let Ok(commit) = head.peel_to_commit() else {
        return String::new();
    };
    let oid = commit.id();
    let mut parts = Vec::new();
    if crate::fetch::shallow_file(repo).contains(&oid) {
        parts.push("grafted".to_string());
    }
    let current = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().map(str::to_string))
        .filter(|t| t.starts_with("refs/heads/"));
    let attached = current.as_ref().filter(|t| {
        repo.find_reference(t)
            .ok()
            .and_then(|r| r.peel_to_commit().ok())
            .is_some_and(|c| c.id() == oid)
    });
    match attached {
        Some(t) => parts.push(format!("HEAD -> {}", &t["refs/heads/".len()..])),
        None => parts.push("HEAD".to_string()),
    }
    let mut names: Vec<String> = Vec::new();
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            let Some(name) = r.name() else { continue };
            if !(name.starts_with("refs/heads/")
                || name.starts_with("refs/remotes/")
                || name.starts_with("refs/tags/"))
            {
                continue;
            }
            if Some(name) == attached.map(|s| s.as_str()) {
                continue;
            }
            if r.peel_to_commit().is_ok_and(|c| c.id() == oid) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    for n in names.iter().rev() {
        if let Some(t) = n.strip_prefix("refs/tags/") {
            parts.push(format!("tag: {t}"));
        } else if let Some(r) = n.strip_prefix("refs/remotes/") {
            parts.push(r.to_string());
        } else if let Some(b) = n.strip_prefix("refs/heads/") {
            parts.push(b.to_string());
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_libgit2_reads_are_bounded() {
        let t = tempfile::tempdir().unwrap();
        let w = t.path();
        std::fs::create_dir_all(w.join("a/b")).unwrap();
        std::fs::create_dir_all(w.join(".git")).unwrap();
        assert_eq!(files_libgit2_reads(w), Ok(()));
        let p = w.join(".gitmodules");
        std::fs::write(&p, "[submodule \"a\"]\n").unwrap();
        std::fs::write(w.join("a/.gitignore"), "x\n").unwrap();
        assert_eq!(files_libgit2_reads(w), Ok(()));
        std::fs::File::create(&p)
            .unwrap()
            .set_len(10 << 30)
            .unwrap();
        assert_eq!(
            files_libgit2_reads(w),
            Err(format!("read {}: larger than 16777216 bytes", p.display()))
        );
        std::fs::remove_file(&p).unwrap();
        // Followed, as libgit2 follows it.
        let attrs = w.join("a/b/.gitattributes");
        std::os::unix::fs::symlink("/dev/zero", &attrs).unwrap();
        assert_eq!(
            files_libgit2_reads(w),
            Err(format!(
                "read {}: not a regular file (character device)",
                attrs.display()
            ))
        );
        std::fs::remove_file(&attrs).unwrap();
        let fifo = |p: &Path| {
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        };
        // Inside a `.git` is not the checkout's business; other FIFOs it does not read.
        fifo(&w.join(".git/.gitignore"));
        fifo(&w.join("a/pipe"));
        assert_eq!(files_libgit2_reads(w), Ok(()));
        fifo(&w.join(".gitignore"));
        assert_eq!(
            files_libgit2_reads(w),
            Err(format!(
                "read {}: not a regular file (fifo)",
                w.join(".gitignore").display()
            ))
        );
    }
}
