//! Which names from a cloned repository may be used: git's rules, in one place.
//!
//! A repository is hostile input. Its trees name the files checkout writes, its `.gitmodules`
//! names the directories under `.git/modules` that submodules are cloned into, and its URLs
//! and paths end up where git once passed them as arguments. git judges these with
//! `verify_path` (read-cache.c), `is_hfs_dotgit`/`is_ntfs_dotgit` and friends (utf8.c, path.c),
//! `check_submodule_name` (submodule-config.c) and `looks_like_command_line_option`; the
//! functions here follow those rules (written from reading them, see the tests for each
//! rule), with the few places where git-init is stricter marked as such.
//!
//! Paths are bytes: tree entry names need not be UTF-8. The directory separator is `/`; a
//! backslash is an ordinary character except where NTFS protection treats it as a separator,
//! as git does on Linux.

use std::collections::HashSet;
use std::fmt;

use git2::{Repository, Tree};

/// git's `core.protectHFS` / `core.protectNTFS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protect {
    pub hfs: bool,
    pub ntfs: bool,
}

impl Protect {
    /// git-init's default: both on. git turns NTFS protection on everywhere (since 2.24) and
    /// HFS protection on macOS only; git-init is stricter and rejects both spellings on any
    /// system, as a work tree may later be used from either.
    pub const DEFAULT: Protect = Protect {
        hfs: true,
        ntfs: true,
    };
}

const MODE_TYPE: u32 = 0o170000;
const MODE_DIR: u32 = 0o040000;
const MODE_SYMLINK: u32 = 0o120000;

fn is_symlink(mode: u32) -> bool {
    mode & MODE_TYPE == MODE_SYMLINK
}

/// The byte at `i`, or 0 past the end (C's terminating NUL).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// git's `verify_path(path, mode)` for an entry that is not a directory: false when checkout
/// must refuse the path (`error: invalid path '<path>'`). Rejects empty components, `.` and
/// `..`, `.git` in any case (and, with the protections, the HFS and NTFS spellings of it),
/// and a symlink named `.gitmodules` in those spellings.
pub fn verify_path(path: &[u8], mode: u32, protect: Protect) -> bool {
    let mut i = 0;
    loop {
        // At the start of a component.
        let rest = &path[i..];
        if protect.hfs && (is_hfs_dotgit(rest) || (is_symlink(mode) && is_hfs_dotgitmodules(rest)))
        {
            return false;
        }
        if protect.ntfs
            && (is_ntfs_dotgit(rest) || (is_symlink(mode) && is_ntfs_dotgitmodules(rest)))
        {
            return false;
        }
        let c = at(path, i);
        i += 1;
        if (c == b'.' && !verify_dotfile(&path[i.min(path.len())..], mode)) || c == b'/' {
            return false;
        }
        // Empty path or trailing separator.
        if c == 0 {
            return false;
        }
        // The rest of the component.
        loop {
            let c = at(path, i);
            i += 1;
            if c == 0 {
                // A NUL inside the name ends it for git too; there is nothing after it.
                return i > path.len();
            }
            if c == b'/' {
                break;
            }
            if c == b'\\'
                && protect.ntfs
                && (is_ntfs_dotgit(&path[i..])
                    || (is_symlink(mode) && is_ntfs_dotgitmodules(&path[i..])))
            {
                return false;
            }
        }
    }
}

/// git's `verify_dotfile`: `rest` follows a component's leading `.`.
fn verify_dotfile(rest: &[u8], mode: u32) -> bool {
    let c0 = at(rest, 0);
    if c0 == 0 || c0 == b'/' {
        return false;
    }
    match c0 {
        b'g' | b'G' => {
            if !at(rest, 1).eq_ignore_ascii_case(&b'i') || !at(rest, 2).eq_ignore_ascii_case(&b't')
            {
                return true;
            }
            let c3 = at(rest, 3);
            if c3 == 0 || c3 == b'/' {
                return false;
            }
            if is_symlink(mode) {
                let after = &rest[3..];
                if after.len() >= 7 && after[..7].eq_ignore_ascii_case(b"modules") {
                    let c = at(after, 7);
                    if c == 0 || c == b'/' {
                        return false;
                    }
                }
            }
            true
        }
        b'.' => {
            let c1 = at(rest, 1);
            !(c1 == 0 || c1 == b'/')
        }
        _ => true,
    }
}

/// Code points HFS+ ignores in names: zero-width (non-)joiners, direction marks, embeddings
/// and overrides, the shaping controls U+206A–U+206F, and the BOM.
fn hfs_ignores(c: u32) -> bool {
    matches!(c, 0x200c..=0x200f | 0x202a..=0x202e | 0x206a..=0x206f | 0xfeff)
}

/// One UTF-8 character at `s[*i..]` by git's rules (no overlong forms, surrogates, U+FFFE/F
/// or code points past U+10FFFF); `None` when malformed.
fn utf8_char(s: &[u8], i: &mut usize) -> Option<u32> {
    let b = |k: usize| at(s, *i + k);
    let cont = |k: usize| b(k) & 0xc0 == 0x80;
    let (c, len) = match b(0) {
        c0 if c0 < 0x80 => (u32::from(c0), 1),
        c0 if c0 & 0xe0 == 0xc0 => {
            if !cont(1) || c0 & 0xfe == 0xc0 {
                return None;
            }
            ((u32::from(c0 & 0x1f) << 6) | u32::from(b(1) & 0x3f), 2)
        }
        c0 if c0 & 0xf0 == 0xe0 => {
            if !cont(1)
                || !cont(2)
                || (c0 == 0xe0 && b(1) & 0xe0 == 0x80)
                || (c0 == 0xed && b(1) & 0xe0 == 0xa0)
                || (c0 == 0xef && b(1) == 0xbf && b(2) & 0xfe == 0xbe)
            {
                return None;
            }
            let c = (u32::from(c0 & 0x0f) << 12)
                | (u32::from(b(1) & 0x3f) << 6)
                | u32::from(b(2) & 0x3f);
            (c, 3)
        }
        c0 if c0 & 0xf8 == 0xf0 => {
            if !cont(1)
                || !cont(2)
                || !cont(3)
                || (c0 == 0xf0 && b(1) & 0xf0 == 0x80)
                || (c0 == 0xf4 && b(1) > 0x8f)
                || c0 > 0xf4
            {
                return None;
            }
            let c = (u32::from(c0 & 0x07) << 18)
                | (u32::from(b(1) & 0x3f) << 12)
                | (u32::from(b(2) & 0x3f) << 6)
                | u32::from(b(3) & 0x3f);
            (c, 4)
        }
        _ => return None,
    };
    *i += len;
    Some(c)
}

/// The next character as HFS+ compares names: ignored code points skipped; 0 at the end and,
/// as in git, for malformed UTF-8 (which then cannot match a needle but does end one).
fn next_hfs_char(s: &[u8], i: &mut usize) -> u32 {
    loop {
        if *i >= s.len() {
            return 0;
        }
        match utf8_char(s, i) {
            None => return 0,
            Some(c) if hfs_ignores(c) => continue,
            Some(c) => return c,
        }
    }
}

/// Whether the component at the start of `path` is `.<needle>` as HFS+ would see it
/// (case-folded, ignorable code points dropped).
fn is_hfs_dot(path: &[u8], needle: &[u8]) -> bool {
    let mut i = 0;
    if next_hfs_char(path, &mut i) != u32::from(b'.') {
        return false;
    }
    for &n in needle {
        let c = next_hfs_char(path, &mut i);
        if c > 127 || (c as u8).to_ascii_lowercase() != n {
            return false;
        }
    }
    let c = next_hfs_char(path, &mut i);
    c == 0 || c == u32::from(b'/')
}

/// git's `is_hfs_dotgit`.
pub fn is_hfs_dotgit(path: &[u8]) -> bool {
    is_hfs_dot(path, b"git")
}

/// git's `is_hfs_dotgitmodules`.
pub fn is_hfs_dotgitmodules(path: &[u8]) -> bool {
    is_hfs_dot(path, b"gitmodules")
}

/// git's `is_ntfs_dotgit`: `.git` or its short name `git~1`, followed by trailing dots or
/// spaces (which NTFS drops) and then the end, a separator (`/` or `\`) or an alternate data
/// stream (`:`).
pub fn is_ntfs_dotgit(name: &[u8]) -> bool {
    let lower = |i: usize| at(name, i).to_ascii_lowercase();
    let mut i = if at(name, 0) == b'.' {
        if !(lower(1) == b'g' && lower(2) == b'i' && lower(3) == b't') {
            return false;
        }
        4
    } else if lower(0) == b'g' {
        if !(lower(1) == b'i' && lower(2) == b't' && at(name, 3) == b'~' && at(name, 4) == b'1') {
            return false;
        }
        5
    } else {
        return false;
    };
    loop {
        let c = at(name, i);
        i += 1;
        if c == 0 || c == b'/' || c == b'\\' || c == b':' {
            return true;
        }
        if c != b'.' && c != b' ' {
            return false;
        }
    }
}

/// git's `is_ntfs_dot_generic`: `.<dotgit_name>` or one of its NTFS short names (`gitmod~1`
/// or the hashed fall-back `gi7eba~1`), then only dots and spaces up to the end or a `:`.
fn is_ntfs_dot(name: &[u8], dotgit_name: &[u8], shortname_prefix: &[u8; 6]) -> bool {
    let only_spaces_and_periods = |mut i: usize| loop {
        let c = at(name, i);
        i += 1;
        if c == 0 || c == b':' {
            return true;
        }
        if c != b' ' && c != b'.' {
            return false;
        }
    };
    let len = dotgit_name.len();
    if at(name, 0) == b'.' && name.len() > len && name[1..=len].eq_ignore_ascii_case(dotgit_name) {
        return only_spaces_and_periods(len + 1);
    }
    if name.len() >= 8
        && name[..6].eq_ignore_ascii_case(&dotgit_name[..6])
        && name[6] == b'~'
        && (b'1'..=b'4').contains(&name[7])
    {
        return only_spaces_and_periods(8);
    }
    let mut saw_tilde = false;
    let mut i = 0;
    while i < 8 {
        let c = at(name, i);
        if c == 0 {
            return false;
        } else if saw_tilde {
            if !c.is_ascii_digit() {
                return false;
            }
        } else if c == b'~' {
            i += 1;
            if !(b'1'..=b'9').contains(&at(name, i)) {
                return false;
            }
            saw_tilde = true;
        } else if i >= 6 || c & 0x80 != 0 || c.to_ascii_lowercase() != shortname_prefix[i] {
            return false;
        }
        i += 1;
    }
    only_spaces_and_periods(i)
}

/// git's `is_ntfs_dotgitmodules`.
pub fn is_ntfs_dotgitmodules(name: &[u8]) -> bool {
    is_ntfs_dot(name, b"gitmodules", b"gi7eba")
}

/// git's `check_submodule_name`, plus two refusals of git-init's own: a submodule's name is
/// the directory of its repository under `.git/modules`, so it must not be empty, have a `..`
/// component (`/` and `\` both separate, on every system, as in git), be absolute (git would
/// still keep it under `.git/modules`; git-init refuses it), or name `.git/modules` itself
/// (only `.` and empty components).
pub fn check_submodule_name(name: &str) -> bool {
    if name.is_empty() || name.starts_with('/') {
        return false;
    }
    let mut components = name.split(['/', '\\']);
    if components.clone().any(|c| c == "..") {
        return false;
    }
    components.any(|c| !c.is_empty() && c != ".")
}

/// git's `looks_like_command_line_option`: a value git would not pass on to a command.
pub fn looks_like_command_line_option(value: &str) -> bool {
    value.starts_with('-')
}

/// git's default `core.maxTreeDepth`: deeper trees are refused before they are walked.
pub const MAX_TREE_DEPTH: usize = 2048;

/// Why a tree cannot be checked out; [`fmt::Display`] is git's `error:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeError {
    /// A path `verify_path` refuses, an entry name with a `/`, or a name that occurs twice in
    /// one tree (git would let the later entry replace the earlier one; git-init is stricter).
    InvalidPath(String),
    TooDeep,
    /// A tree object could not be read.
    Read(String),
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::InvalidPath(p) => write!(f, "error: invalid path '{p}'"),
            TreeError::TooDeep => write!(f, "error: exceeded maximum allowed tree depth"),
            TreeError::Read(m) => write!(f, "fatal: {m}"),
        }
    }
}

/// The protections `repo`'s configuration asks for (`core.protectHFS`/`core.protectNTFS`),
/// [`Protect::DEFAULT`] where unset.
pub fn protect_for(repo: &Repository) -> Protect {
    let cfg = repo.config().ok();
    let get = |key: &str| cfg.as_ref().and_then(|c| c.get_bool(key).ok());
    Protect {
        hfs: get("core.protecthfs").unwrap_or(Protect::DEFAULT.hfs),
        ntfs: get("core.protectntfs").unwrap_or(Protect::DEFAULT.ntfs),
    }
}

/// Checks every path of `tree` before anything is written, as git's checkout checks each
/// index entry: the first path git would refuse fails the whole checkout.
pub fn verify_tree(repo: &Repository, tree: &Tree<'_>, protect: Protect) -> Result<(), TreeError> {
    verify_subtree(repo, tree, protect, &mut Vec::new(), 1)
}

fn verify_subtree(
    repo: &Repository,
    tree: &Tree<'_>,
    protect: Protect,
    prefix: &mut Vec<u8>,
    depth: usize,
) -> Result<(), TreeError> {
    if depth > MAX_TREE_DEPTH {
        return Err(TreeError::TooDeep);
    }
    let invalid = |p: &[u8]| TreeError::InvalidPath(String::from_utf8_lossy(p).into_owned());
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(tree.len());
    for entry in tree.iter() {
        let name = entry.name_bytes();
        let mode = entry.filemode_raw() as u32;
        let len = prefix.len();
        prefix.extend_from_slice(name);
        let is_dir = mode & MODE_TYPE == MODE_DIR;
        // Directories are judged through the paths of the files in them, as git reports them
        // (`.GIT/x`); nothing is written for an empty one.
        let bad = name.is_empty()
            || name.contains(&b'/')
            || !seen.insert(name.to_vec())
            || (!is_dir && !verify_path(prefix, mode, protect));
        if bad {
            return Err(invalid(prefix));
        }
        if is_dir {
            let sub = repo
                .find_tree(entry.id())
                .map_err(|e| TreeError::Read(e.message().to_string()))?;
            prefix.push(b'/');
            verify_subtree(repo, &sub, protect, prefix, depth + 1)?;
        }
        prefix.truncate(len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOB: u32 = 0o100644;
    const LINK: u32 = 0o120000;
    const GITLINK: u32 = 0o160000;
    const NONE: Protect = Protect {
        hfs: false,
        ntfs: false,
    };
    const NTFS: Protect = Protect {
        hfs: false,
        ntfs: true,
    };
    const HFS: Protect = Protect {
        hfs: true,
        ntfs: false,
    };

    fn ok(path: &str, mode: u32, p: Protect) -> bool {
        verify_path(path.as_bytes(), mode, p)
    }

    #[test]
    fn ordinary_paths_are_valid() {
        for p in [
            "a",
            "a/b/c",
            ".github/workflows/ci.yml",
            ".gitignore",
            ".gitmodules",
            ".gitattributes",
            "a/.gitkeep",
            "..a",
            "a..",
            "...",
            "git",
            "gitx~1",
            "digit~1",
            "é/ü",
            "a\\b",
            ".g\u{200c}x",
        ] {
            assert!(ok(p, BLOB, Protect::DEFAULT), "{p:?}");
        }
        assert!(ok("sub/module", GITLINK, Protect::DEFAULT));
        assert!(ok("link", LINK, Protect::DEFAULT));
        assert!(ok(".gitmodulesx", LINK, Protect::DEFAULT));
    }

    #[test]
    fn empty_dot_and_dotdot_components_are_invalid() {
        for p in [
            "", "/", "/a", "a/", "a//b", ".", "..", "./a", "../a", "a/./b", "a/../b", "a/.", "a/..",
        ] {
            assert!(!ok(p, BLOB, NONE), "{p:?}");
        }
    }

    #[test]
    fn dot_git_in_any_case_is_invalid_without_protections() {
        for p in [
            ".git",
            ".GIT",
            ".Git/x",
            "a/.git",
            "a/.gIt/hooks/pre-commit",
        ] {
            assert!(!ok(p, BLOB, NONE), "{p:?}");
        }
        // NTFS/HFS spellings are only judged with the protections on.
        for p in [".git.", ".git ", "git~1", ".g\u{200c}it"] {
            assert!(ok(p, BLOB, NONE), "{p:?}");
        }
    }

    #[test]
    fn ntfs_spellings_of_dot_git() {
        for p in [
            ".git.",
            ".git..",
            ".git ",
            ".git . .",
            "GIT~1",
            "git~1/x",
            "a/git~1",
            ".git::$INDEX_ALLOCATION",
            ".git:stream/x",
            "a\\.git",
            "a\\git~1\\x",
        ] {
            assert!(!ok(p, BLOB, NTFS), "{p:?}");
        }
        for p in ["git~2", ".gitx", ".git.x", "git~1x", "a\\b"] {
            assert!(ok(p, BLOB, NTFS), "{p:?}");
        }
    }

    #[test]
    fn hfs_spellings_of_dot_git() {
        for p in [
            ".g\u{200c}it",
            "\u{200d}.git",
            ".GI\u{feff}T",
            "a/.g\u{206f}i\u{202e}t/b",
        ] {
            assert!(!ok(p, BLOB, HFS), "{p:?}");
        }
        // A non-ignorable non-ASCII character or invalid UTF-8 makes it something else.
        for p in [".gé", ".g\u{2010}it"] {
            assert!(ok(p, BLOB, HFS), "{p:?}");
        }
        assert!(verify_path(b".g\xe2\x80it", BLOB, HFS));
        // As in git, malformed UTF-8 right after the name ends it.
        assert!(!verify_path(b".git\xff", BLOB, HFS));
        assert!(!verify_path(b".git\xef\xbf\xbe", BLOB, HFS));
        assert!(verify_path(b".git\xc3\xa9", BLOB, HFS));
        assert!(is_hfs_dotgit(".g\u{200c}it/x".as_bytes()));
        assert!(!is_hfs_dotgit(".g\u{200c}itx".as_bytes()));
    }

    #[test]
    fn gitmodules_may_not_be_a_symlink_in_any_spelling() {
        for p in [".gitmodules", ".GITMODULES", "a/.gitmodules"] {
            assert!(!ok(p, LINK, NONE), "{p:?}");
            assert!(ok(p, BLOB, NONE), "{p:?}");
        }
        for p in [
            ".gitmodules.",
            ".gitmodules :x",
            "GITMOD~1",
            "gitmod~4",
            "gi7eba~1",
            "GI7EBA~9",
        ] {
            assert!(!ok(p, LINK, NTFS), "{p:?}");
            assert!(ok(p, BLOB, NTFS), "{p:?}");
        }
        for p in ["gitmod~5", "gi7eba~a", "gi7ebb~1", ".gitmodulesx"] {
            assert!(ok(p, LINK, NTFS), "{p:?}");
        }
        assert!(!ok(".git\u{200c}modules", LINK, HFS));
        assert!(ok(".git\u{200c}modules", LINK, NONE));
    }

    #[test]
    fn ntfs_short_names() {
        assert!(is_ntfs_dotgitmodules(b"gi7eb~12"));
        assert!(!is_ntfs_dotgitmodules(b"gi7eb~1a"));
        assert!(!is_ntfs_dotgitmodules(b"gi7e"));
        assert!(is_ntfs_dotgit(b"git~1\\"));
        assert!(!is_ntfs_dotgit(b"gi"));
    }

    #[test]
    fn submodule_names() {
        for n in ["sub", "a/b", "lib.git", "..a", "a..", "a\\b", "./x", "x/."] {
            assert!(check_submodule_name(n), "{n:?}");
        }
        for n in [
            "",
            "..",
            "../x",
            "../../../escaped",
            "a/../b",
            "a/..",
            "..\\x",
            "a\\..\\b",
            "a\\..",
            "/abs",
            "/",
            ".",
            "./",
            "./.",
            "//",
        ] {
            assert!(!check_submodule_name(n), "{n:?}");
        }
    }

    #[test]
    fn command_line_options() {
        assert!(looks_like_command_line_option("-u"));
        assert!(looks_like_command_line_option("--upload-pack=touch /tmp/x"));
        assert!(!looks_like_command_line_option("https://h/-x"));
        assert!(!looks_like_command_line_option(""));
    }
}
