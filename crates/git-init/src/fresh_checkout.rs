//! Checkout of a commit into an empty work tree, streamed: files and index in one pass.
//!
//! libgit2's checkout diffs the target tree against the index and the work tree, and keeps the
//! whole diff, its checkout lists and the new index in memory: ~6.5 MiB of heap at 20k files,
//! more than the git CLI's biggest process. A fresh clone needs none of that: nothing is there
//! yet, so every entry of the tree is written once, in tree order. Git's tree order (directories
//! compare as if they ended in `/`) is the index's path order, so each entry's index record is
//! streamed to `index.lock` right after its file is written, and memory stays flat whatever the
//! size of the tree.
//!
//! Only the plain case takes this path ([`plan`]); whatever needs libgit2's judgement or
//! machinery — an existing index or files, sparse checkout, `.gitattributes` and eol settings
//! (filters), names that git's path protections must rule on, trees out of order — is left to
//! libgit2's checkout. Files get git's modes (`0666`/`0777` less the umask, as `git checkout`),
//! symlinks follow `core.symlinks`, submodules become empty directories.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Tree};

use crate::pathcheck;
use openssl::sha::Sha1;

pub(crate) const MODE_TREE: i32 = 0o040000;
const MODE_BLOB: i32 = 0o100644;
const MODE_BLOB_GROUP_WRITABLE: i32 = 0o100664;
const MODE_EXECUTABLE: i32 = 0o100755;
const MODE_LINK: i32 = 0o120000;
pub(crate) const MODE_GITLINK: i32 = 0o160000;

/// Whether a checkout can be streamed, and how many index entries it will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Write the tree directly; the index gets this many entries.
    Stream(u32),
    /// Leave it to libgit2's checkout.
    Libgit2,
}

/// Decides whether `tree` can be checked out by [`write`]: the work tree holds nothing but
/// `.git`, there is no index yet, no sparse checkout and no attribute or eol setting, and
/// every name in the tree is ordinary and in git's order.
pub fn plan(repo: &Repository, tree: &Tree<'_>) -> Plan {
    let Some(workdir) = repo.workdir() else {
        return Plan::Libgit2;
    };
    if repo.path().join("index").exists()
        || repo.path().join("info/attributes").exists()
        || !holds_only_dot_git(workdir)
        || config_needs_libgit2(repo)
    {
        return Plan::Libgit2;
    }
    let mut count: u32 = 0;
    let mut last: Vec<u8> = Vec::new();
    let mut prefix: Vec<u8> = Vec::new();
    let ok = scan(repo, tree, &mut prefix, &mut |path, mode| {
        // Strictly increasing paths: sorted, no duplicates, so index order holds.
        if mode != MODE_TREE {
            if !last.is_empty() && path <= last.as_slice() {
                return false;
            }
            last.clear();
            last.extend_from_slice(path);
            count = match count.checked_add(1) {
                Some(c) => c,
                None => return false,
            };
        }
        true
    });
    if ok {
        Plan::Stream(count)
    } else {
        Plan::Libgit2
    }
}

/// Settings that change what checkout writes (filters, eol, sparse) or how (no symlinks is
/// handled here, everything else is not).
fn config_needs_libgit2(repo: &Repository) -> bool {
    let Ok(cfg) = repo.config() else {
        return true;
    };
    let set = |k: &str| cfg.get_entry(k).is_ok();
    cfg.get_bool("core.sparsecheckout").unwrap_or(false)
        || cfg.get_string("core.autocrlf").is_ok_and(|v| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "false" | "no" | "off" | "0" | ""
            )
        })
        || set("core.eol")
        || set("core.attributesfile")
}

fn holds_only_dot_git(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()))
            .all(|name| name.is_ok_and(|n| n == ".git")),
        Err(_) => false,
    }
}

/// A name that needs none of git's path protections and no filter: a valid tree entry name
/// (no `/`) that [`pathcheck::verify_path`] passes with every protection on — whatever the
/// repository's `core.protect*`, so a name git (or libgit2) would have to rule on goes to
/// libgit2's checkout — and not `.gitattributes` (in any case, with NTFS's trailing dots and
/// spaces), which would turn on attribute filters only libgit2's checkout applies.
fn ordinary_name(name: &[u8], mode: i32) -> bool {
    !name.contains(&b'/')
        && pathcheck::verify_path(name, mode as u32, pathcheck::Protect::DEFAULT)
        && !is_gitattributes(name)
}

fn is_gitattributes(name: &[u8]) -> bool {
    let end = name
        .iter()
        .rposition(|&b| b != b'.' && b != b' ')
        .map_or(0, |i| i + 1);
    name[..end].eq_ignore_ascii_case(b".gitattributes")
}

/// Walks `tree` in order, calling `visit(path, mode)` for every entry; false when a name or
/// mode is not one [`write`] handles, or `visit` says so.
fn scan(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &mut Vec<u8>,
    visit: &mut dyn FnMut(&[u8], i32) -> bool,
) -> bool {
    for entry in tree.iter() {
        let mode = entry.filemode_raw();
        let name = entry.name_bytes();
        if !ordinary_name(name, mode) {
            return false;
        }
        let len = prefix.len();
        prefix.extend_from_slice(name);
        let ok = match mode {
            MODE_TREE => {
                visit(prefix, mode)
                    && repo.find_tree(entry.id()).is_ok_and(|sub| {
                        prefix.push(b'/');
                        scan(repo, &sub, prefix, visit)
                    })
            }
            MODE_BLOB | MODE_BLOB_GROUP_WRITABLE | MODE_EXECUTABLE | MODE_LINK | MODE_GITLINK => {
                visit(prefix, mode)
            }
            _ => false,
        };
        prefix.truncate(len);
        if !ok {
            return false;
        }
    }
    true
}

/// Writes `tree` into the (empty) work tree and the index with `entries` records, as
/// `git checkout -f` would in a fresh repository. On error the caller falls back to libgit2,
/// which overwrites whatever was written here.
pub fn write(repo: &Repository, tree: &Tree<'_>, entries: u32) -> io::Result<()> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| io::Error::other("no work tree"))?
        .to_path_buf();
    let symlinks = repo
        .config()
        .ok()
        .and_then(|c| c.get_bool("core.symlinks").ok())
        .unwrap_or(true);
    let lock_path = repo.path().join("index.lock");
    let lock = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&lock_path)?;
    let mut index = IndexWriter::new(lock, entries)?;
    let mut writer = TreeWriter {
        repo,
        symlinks,
        index: &mut index,
        workdir,
        path: Vec::new(),
    };
    let written = writer.tree(tree).and_then(|()| index.finish());
    match written {
        Ok(()) => fs::rename(&lock_path, repo.path().join("index")),
        Err(e) => {
            let _ = fs::remove_file(&lock_path);
            Err(e)
        }
    }
}

struct TreeWriter<'a, 'r> {
    repo: &'r Repository,
    symlinks: bool,
    index: &'a mut IndexWriter,
    workdir: PathBuf,
    /// Path of the current entry relative to the work tree.
    path: Vec<u8>,
}

impl TreeWriter<'_, '_> {
    fn tree(&mut self, tree: &Tree<'_>) -> io::Result<()> {
        for entry in tree.iter() {
            let len = self.path.len();
            self.path.extend_from_slice(entry.name_bytes());
            let mode = entry.filemode_raw();
            let res = self.entry(entry.id(), mode);
            self.path.truncate(len);
            res?;
        }
        Ok(())
    }

    fn entry(&mut self, id: Oid, mode: i32) -> io::Result<()> {
        let full = self.workdir.join(std::ffi::OsStr::from_bytes(&self.path));
        match mode {
            MODE_TREE => {
                mkdir(&full)?;
                let sub = self.repo.find_tree(id).map_err(git_io)?;
                self.path.push(b'/');
                self.tree(&sub)
            }
            MODE_GITLINK => {
                mkdir(&full)?;
                self.index.entry(&self.path, id, MODE_GITLINK, None)
            }
            MODE_LINK => {
                let blob = self.repo.find_blob(id).map_err(git_io)?;
                let meta = if self.symlinks {
                    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(blob.content()), &full)?;
                    fs::symlink_metadata(&full)?
                } else {
                    write_file(&full, blob.content(), 0o666)?
                };
                self.index.entry(&self.path, id, MODE_LINK, Some(&meta))
            }
            _ => {
                let blob = self.repo.find_blob(id).map_err(git_io)?;
                let (perm, mode) = if mode == MODE_EXECUTABLE {
                    (0o777, MODE_EXECUTABLE)
                } else {
                    (0o666, MODE_BLOB)
                };
                let meta = write_file(&full, blob.content(), perm)?;
                self.index.entry(&self.path, id, mode, Some(&meta))
            }
        }
    }
}

fn git_io(e: git2::Error) -> io::Error {
    io::Error::other(e.message().to_string())
}

fn mkdir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o777).create(path)
}

/// Creates a new file (never through an existing name or symlink) and returns its stat.
fn write_file(path: &Path, content: &[u8], perm: u32) -> io::Result<fs::Metadata> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(perm)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(content)?;
    f.metadata()
}

/// Index file version 2 (`DIRC`), written as it goes and closed by its SHA-1.
struct IndexWriter {
    out: BufWriter<File>,
    sha: Sha1,
    expected: u32,
    written: u32,
}

impl IndexWriter {
    fn new(file: File, entries: u32) -> io::Result<Self> {
        let mut w = IndexWriter {
            out: BufWriter::with_capacity(64 << 10, file),
            sha: Sha1::new(),
            expected: entries,
            written: 0,
        };
        let mut header = [0u8; 12];
        header[..4].copy_from_slice(b"DIRC");
        header[4..8].copy_from_slice(&2u32.to_be_bytes());
        header[8..].copy_from_slice(&entries.to_be_bytes());
        w.put(&header)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sha.update(bytes);
        self.out.write_all(bytes)
    }

    /// One entry: stat data (zero for submodules), mode, object id, flags, NUL-padded path.
    fn entry(
        &mut self,
        path: &[u8],
        id: Oid,
        mode: i32,
        meta: Option<&fs::Metadata>,
    ) -> io::Result<()> {
        if self.written >= self.expected {
            return Err(io::Error::other("more index entries than planned"));
        }
        self.written += 1;
        // Index fields are 32 bits; git truncates the same way.
        let [ctime, ctime_ns, mtime, mtime_ns, dev, ino, uid, gid, size] =
            meta.map_or([0; 9], |m| {
                [
                    m.ctime() as u32,
                    m.ctime_nsec() as u32,
                    m.mtime() as u32,
                    m.mtime_nsec() as u32,
                    m.dev() as u32,
                    m.ino() as u32,
                    m.uid(),
                    m.gid(),
                    m.size() as u32,
                ]
            });
        let mut rec = Vec::with_capacity(72 + path.len());
        for v in [
            ctime,
            ctime_ns,
            mtime,
            mtime_ns,
            dev,
            ino,
            mode as u32,
            uid,
            gid,
            size,
        ] {
            rec.extend_from_slice(&v.to_be_bytes());
        }
        rec.extend_from_slice(id.as_bytes());
        let name_len = path.len().min(0xfff) as u16;
        rec.extend_from_slice(&name_len.to_be_bytes());
        rec.extend_from_slice(path);
        // 1 to 8 NULs, up to a multiple of 8 (62 fixed bytes + path).
        rec.resize((62 + path.len() + 8) & !7, 0);
        self.put(&rec)
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.written != self.expected {
            return Err(io::Error::other("fewer index entries than planned"));
        }
        let sha = std::mem::replace(&mut self.sha, Sha1::new()).finish();
        self.out.write_all(&sha)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names() {
        for n in [
            "a",
            "README.md",
            ".github",
            ".gitmodules",
            ".gitignore",
            "git",
            "digit~1",
            "é",
            // Ordinary bytes on Linux, for git and libgit2 alike.
            "a\\b",
            "c:d",
            "GITMOD~1",
        ] {
            assert!(ordinary_name(n.as_bytes(), MODE_BLOB), "{n}");
        }
        assert!(ordinary_name(b".github", MODE_TREE));
        // What git's path protections rule on (pathcheck), and `.gitattributes`.
        for n in [
            "",
            ".",
            "..",
            ".git",
            ".GIT",
            ".git.",
            ".git ..",
            ".gitattributes",
            ".GitAttributes. .",
            "git~1",
            "a/b",
            "a\\.git",
            ".git:x",
            ".g\u{200c}it",
        ] {
            assert!(!ordinary_name(n.as_bytes(), MODE_BLOB), "{n:?}");
        }
        assert!(!ordinary_name(b"a\0b", MODE_BLOB));
        for n in [".gitmodules", ".GITMODULES", "GITMOD~1", ".gitmodules."] {
            assert!(!ordinary_name(n.as_bytes(), MODE_LINK), "{n:?}");
        }
        assert!(ordinary_name(b"link", MODE_LINK));
        assert!(ordinary_name(b".gitignore", MODE_LINK));
    }
}
