//! git-init against hostile repositories and reused volumes.
//!
//! Each repository is built with the git CLI's plumbing (`hash-object --literally`,
//! `fast-import`, `update-index --cacheinfo`), which writes trees the porcelain refuses. Each
//! case says what git does with it — upstream's command sequence (`git init`, `fetch`,
//! `checkout -f FETCH_HEAD`, `submodule update --recursive --init --force`) is run with the real
//! git where cheap — and checks that git-init does the same or refuses, and that nothing
//! outside `-path` changed (the sandbox's other contents are compared before and after).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A temp root holding repositories, an `outside` directory symlinks point to, git-init's
/// home and termination file, and the workspace whose `out` is `-path`.
struct Sandbox {
    _t: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    workspace: PathBuf,
    out: PathBuf,
    term: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        let home = make_home(&root);
        // Submodule URLs in these repositories are local paths.
        write(
            &home.join(".gitconfig"),
            "[protocol \"file\"]\n\tallow = always\n",
        );
        let workspace = root.join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        write(&root.join("outside/keep"), "precious\n");
        Sandbox {
            out: workspace.join("out"),
            term: root.join("termination"),
            _t: t,
            root,
            home,
            workspace,
        }
    }

    /// git-init cloning `url` into `path` (default `-path` = `out`).
    fn clone_into(&self, url: &Path, path: &Path, extra: &[&str]) -> Run {
        let mut args = vec![
            format!("-url={}", url.display()),
            format!("-path={}", path.display()),
            format!("-terminationMessagePath={}", self.term.display()),
            "-userFriendlyErrors=false".to_string(),
            "-depth=0".to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        git_init(&self.root, &args)
    }

    fn clone(&self, url: &Path) -> Run {
        self.clone_into(url, &self.out, &[])
    }

    /// The same clone in the v0.37.2 flavour: `TEKTON_RESOURCE_NAME` set and none of the
    /// catalog's own flags (so no `-userFriendlyErrors=false`).
    fn clone_v037(&self, url: &Path, path: &Path) -> Run {
        let args = [
            format!("-url={}", url.display()),
            format!("-path={}", path.display()),
            format!("-terminationMessagePath={}", self.term.display()),
            "-depth=0".to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        git_init_env(&self.root, &args, &[("TEKTON_RESOURCE_NAME", "src")])
    }

    /// Everything under the root but `-path`, git-init's home and the termination file:
    /// relative path → kind and content.
    fn snapshot(&self, path: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let skip = [path.to_path_buf(), self.home.clone(), self.term.clone()];
        snapshot_walk(&self.root, &self.root, &skip, &mut out);
        out
    }
}

fn snapshot_walk(base: &Path, dir: &Path, skip: &[PathBuf], out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if skip.contains(&p) {
            continue;
        }
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let what = if meta.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&p).unwrap().display())
        } else if meta.is_dir() {
            snapshot_walk(base, &p, skip, out);
            "dir".to_string()
        } else {
            format!("file {:?}", std::fs::read(&p).unwrap())
        };
        out.insert(rel, what);
    }
}

/// Runs git-init (via `run`) and asserts that nothing outside `path` changed.
fn outside_untouched(sb: &Sandbox, path: &Path, run: impl FnOnce() -> Run) -> Run {
    let before = sb.snapshot(path);
    let r = run();
    let after = sb.snapshot(path);
    assert_eq!(
        before, after,
        "git-init changed files outside -path\n{}",
        r.stderr
    );
    r
}

fn git_stdin(home: &Path, dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    git_env(&mut cmd, home);
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository being built from raw objects.
struct Raw<'a> {
    home: &'a Path,
    dir: PathBuf,
}

impl<'a> Raw<'a> {
    fn new(sb: &'a Sandbox, name: &str) -> Raw<'a> {
        let dir = sb.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        git(&sb.home, &dir, &["init", "-q", "-b", "main"]);
        Raw {
            home: &sb.home,
            dir,
        }
    }

    fn blob(&self, data: &[u8]) -> String {
        git_stdin(
            self.home,
            &self.dir,
            &["hash-object", "-w", "--stdin"],
            data,
        )
    }

    /// A tree object with exactly these entries (mode, name, object), unchecked.
    fn tree(&self, entries: &[(&str, &[u8], &str)]) -> String {
        let mut raw = Vec::new();
        for (mode, name, id) in entries {
            raw.extend_from_slice(mode.as_bytes());
            raw.push(b' ');
            raw.extend_from_slice(name);
            raw.push(0);
            raw.extend_from_slice(&hex(id));
        }
        git_stdin(
            self.home,
            &self.dir,
            &["hash-object", "-w", "-t", "tree", "--literally", "--stdin"],
            &raw,
        )
    }

    /// Commits `tree` as `main`; returns the commit.
    fn commit(&self, tree: &str) -> String {
        let c = git(
            self.home,
            &self.dir,
            &["commit-tree", tree, "-m", "hostile"],
        );
        git(self.home, &self.dir, &["update-ref", "refs/heads/main", &c]);
        c
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Upstream's command sequence with the real git in a directory of its own; returns the
/// exit code of the first failing command (0 if all pass) and its stderr.
fn upstream_git(home: &Path, url: &Path, dir: &Path) -> (i32, String) {
    std::fs::create_dir_all(dir).unwrap();
    let url = url.to_str().unwrap();
    for args in [
        vec!["init", "-q"],
        vec!["remote", "add", "origin", url],
        vec!["fetch", "-q", "origin", "--update-head-ok", "--force"],
        vec!["checkout", "-q", "-f", "FETCH_HEAD"],
        vec![
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "update",
            "--recursive",
            "--init",
            "--force",
        ],
    ] {
        let out = git_out(home, dir, &args);
        if !out.status.success() {
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
    }
    (0, String::new())
}

/// A one-file repository to use as a submodule; returns (dir, commit).
fn submodule_repo(sb: &Sandbox) -> (PathBuf, String) {
    let dir = sb.root.join("subrepo");
    let head = one_commit_repo(&sb.home, &dir, "s.txt", "sub\n");
    (dir, head)
}

/// A superproject whose `.gitmodules` is `gitmodules` and whose tree has a gitlink at each of
/// `links` to `commit`.
fn superproject(
    sb: &Sandbox,
    name: &str,
    gitmodules: &str,
    links: &[&str],
    commit: &str,
) -> PathBuf {
    let r = Raw::new(sb, name);
    let modules = r.blob(gitmodules.as_bytes());
    let mut entries: Vec<(&str, &[u8], &str)> = vec![("100644", b".gitmodules", &modules)];
    for l in links {
        entries.push(("160000", l.as_bytes(), commit));
    }
    entries.sort_by(|a, b| a.1.cmp(b.1));
    let t = r.tree(&entries);
    r.commit(&t);
    r.dir
}

/// git-init's run failed with exit 1; its last message. `what` names the case, if any.
fn last_error(r: &Run, what: &str) -> String {
    assert_eq!(r.code, 1, "{what}: {}", r.stderr);
    r.messages().last().unwrap().clone()
}

/// [`upstream_git`] cloning `src` into a fresh temp directory: (exit code, stderr).
fn upstream_git_once(sb: &Sandbox, src: &Path) -> (i32, String) {
    let tg = tempfile::tempdir().unwrap();
    upstream_git(&sb.home, src, &tg.path().join("w"))
}

/// A one-commit repository `src` holding `f` (`x`).
fn source_repo(sb: &Sandbox) -> PathBuf {
    let src = sb.root.join("src");
    one_commit_repo(&sb.home, &src, "f", "x\n");
    src
}

/// An empty repository at `-path`, as an earlier run leaves it; returns its `.git`.
fn reused_git_dir(sb: &Sandbox) -> PathBuf {
    std::fs::create_dir_all(&sb.out).unwrap();
    git(&sb.home, &sb.out, &["init", "-q"]);
    sb.out.join(".git")
}

/// A `.gitmodules` with one submodule `sm` at path `sm` cloned from `sub`.
fn sm_gitmodules(sub: &Path) -> String {
    format!(
        "[submodule \"sm\"]\n\tpath = sm\n\turl = {}\n",
        sub.display()
    )
}

/// A repository `src` whose tree holds a symlink `a -> <root>/outside` and a directory `a/`
/// holding `file`; returns it, the symlink's target and the commit.
fn symlink_then_directory(sb: &Sandbox) -> (Raw<'_>, PathBuf, String) {
    let r = Raw::new(sb, "src");
    let target = sb.root.join("outside");
    let link = r.blob(target.to_str().unwrap().as_bytes());
    let file = r.blob(b"written through\n");
    let dir = r.tree(&[("100644", b"file", &file)]);
    let t = r.tree(&[("120000", b"a", &link), ("40000", b"a", &dir)]);
    let commit = r.commit(&t);
    (r, target, commit)
}

/// A new repository at `dst` with `main` of `src` fetched into it (no checkout).
fn fetched_into(sb: &Sandbox, dst: &Path, src: &Path) -> git2::Repository {
    std::fs::create_dir_all(dst).unwrap();
    git(&sb.home, dst, &["init", "-q"]);
    git(
        &sb.home,
        dst,
        &["fetch", "-q", src.to_str().unwrap(), "main"],
    );
    git2::Repository::open(dst).unwrap()
}

fn no_git() -> bool {
    testsupport::need_tool("git").is_none()
}

/// Nothing named `escaped` anywhere under the sandbox.
fn assert_no_escaped(sb: &Sandbox) {
    let mut found = Vec::new();
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains("escaped") {
                found.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, found);
            }
        }
    }
    walk(&sb.root, &mut found);
    // The superproject's own .gitmodules mentions the name, but no file or directory is named so.
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn traversal_submodule_names_are_ignored_with_gits_warning() {
    if no_git() {
        return;
    }
    // git (submodule-config.c) ignores a `.gitmodules` entry whose name has a `..` component
    // (`/` or `\`), warning "ignoring suspicious submodule name: <name>"; the gitlink then
    // has no entry and `git submodule update --init` fails with "No url found for submodule
    // path 'sm' in .gitmodules" (exit 128). `git clone --recurse-submodules` leaves `sm`
    // empty and succeeds. git-init does what upstream's sequence does. An absolute name git
    // would keep under `.git/modules`; git-init refuses it the same way (stricter).
    for (i, name) in [
        "../../../escaped",
        "..\\..\\..\\escaped",
        "a/../../escaped",
        "..",
        "/tmp/escaped",
    ]
    .iter()
    .enumerate()
    {
        let sb = Sandbox::new();
        let (sub, commit) = submodule_repo(&sb);
        let modules = format!(
            "[submodule \"{}\"]\n\tpath = sm\n\turl = {}\n",
            name.replace('\\', "\\\\"),
            sub.display()
        );
        let sup = superproject(&sb, &format!("super{i}"), &modules, &["sm"], &commit);
        if !name.starts_with('/') {
            let (code, err) = upstream_git_once(&sb, &sup);
            assert_eq!(code, 128, "{name}: {err}");
            assert!(
                err.contains(&format!(
                    "warning: ignoring suspicious submodule name: {name}"
                )) && err.contains("fatal: No url found for submodule path 'sm' in .gitmodules"),
                "{name}: {err}"
            );
        }
        let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        let warning = format!("ignoring suspicious submodule name: {name}");
        let warn_line = r
            .json_lines()
            .into_iter()
            .find(|l| l["level"] == "warn" && l["msg"] == warning.as_str());
        assert!(warn_line.is_some(), "{name}: {}", r.stderr);
        let msgs = r.messages();
        let last = msgs.last().unwrap();
        assert!(
            last.contains(&format!(
                "warning: {warning}\nfatal: No url found for submodule path 'sm' in .gitmodules"
            )),
            "{name}: {last}"
        );
        assert!(!sb.out.join(".git/modules").exists(), "{name}");
        assert_no_escaped(&sb);
    }
}

#[test]
fn a_suspicious_entry_does_not_hide_a_good_one() {
    if no_git() {
        return;
    }
    // git ignores only the suspicious entry; a valid one for the same path is used.
    let sb = Sandbox::new();
    let (sub, commit) = submodule_repo(&sb);
    let modules = format!(
        "[submodule \"../escaped\"]\n\tpath = sm\n\turl = {0}\n[submodule \"good\"]\n\tpath = sm\n\turl = {0}\n",
        sub.display()
    );
    let sup = superproject(&sb, "super", &modules, &["sm"], &commit);
    assert_eq!(upstream_git_once(&sb, &sup).0, 0);
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sb.out.join(".git/modules/good/HEAD").is_file());
    assert_eq!(
        std::fs::read_to_string(sb.out.join("sm/s.txt")).unwrap(),
        "sub\n"
    );
    assert_no_escaped(&sb);
}

#[test]
fn option_like_submodule_urls_and_paths_are_ignored() {
    if no_git() {
        return;
    }
    // git ignores a `.gitmodules` url or path starting with `-` ("ignoring
    // 'submodule.sm.url' which may be interpreted as a command-line option: -…"), so the
    // submodule has no url: "No url found for submodule path …", exit 128.
    for (i, (path, url)) in [
        ("sm", "--upload-pack=touch /tmp/pwned"),
        ("sm", "-oProxyCommand=touch /tmp/pwned"),
        ("-sm", "SUB"),
    ]
    .iter()
    .enumerate()
    {
        let sb = Sandbox::new();
        let (sub, commit) = submodule_repo(&sb);
        let url = url.replace("SUB", &sub.display().to_string());
        let modules = format!("[submodule \"x\"]\n\tpath = {path}\n\turl = {url}\n");
        let sup = superproject(&sb, &format!("super{i}"), &modules, &[path], &commit);
        let (key, value) = if url.starts_with('-') {
            ("submodule.x.url", url.as_str())
        } else {
            ("submodule.x.path", *path)
        };
        let warning =
            format!("ignoring '{key}' which may be interpreted as a command-line option: {value}");
        let no_url = format!("fatal: No url found for submodule path '{path}' in .gitmodules");
        let (code, err) = upstream_git_once(&sb, &sup);
        assert_eq!(code, 128, "{err}");
        assert!(err.contains(&warning) && err.contains(&no_url), "{err}");
        let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.messages().contains(&warning), "{}", r.stderr);
        assert!(
            r.messages().last().unwrap().contains(&no_url),
            "{}",
            r.stderr
        );
        assert!(!Path::new("/tmp/pwned").exists());
    }
}

/// A repository whose tree holds `name` (a directory with a `config` file, or a file of
/// `mode` when not a tree) next to an ordinary README.
fn tree_with_entry(sb: &Sandbox, repo: &str, name: &[u8], mode: &str) -> PathBuf {
    let r = Raw::new(sb, repo);
    let evil = r.blob(b"[core]\n\tfsmonitor = touch /tmp/pwned\n");
    let readme = r.blob(b"hello\n");
    let (mode, id) = match mode {
        "40000" => ("40000", r.tree(&[("100644", b"config", &evil)])),
        "120000" => ("120000", r.blob(b"../../outside/keep")),
        "160000" => (
            "160000",
            "1111111111111111111111111111111111111111".to_string(),
        ),
        m => (m, evil),
    };
    let mut entries: Vec<(&str, &[u8], &str)> =
        vec![(mode, name, &id), ("100644", b"README", &readme)];
    entries.sort_by(|a, b| a.1.cmp(b.1));
    let t = r.tree(&entries);
    r.commit(&t);
    r.dir
}

#[test]
fn dot_git_spellings_in_trees_are_refused() {
    if no_git() {
        return;
    }
    // git's checkout refuses these paths with "error: invalid path '<path>'" (exit 128):
    // `.git` in any case always, its NTFS spellings (trailing dots/spaces, `git~1`, streams)
    // because core.protectNTFS is on by default, a symlink named `.gitmodules`, `.` and `..`.
    // The HFS spelling with an ignorable code point git refuses only on macOS
    // (core.protectHFS); git-init refuses it everywhere (stricter).
    let cases: &[(&[u8], &str, &str, bool)] = &[
        (b".git", "40000", ".git/config", true),
        (b".GIT", "40000", ".GIT/config", true),
        (b".Git", "100644", ".Git", true),
        (b".git.", "40000", ".git./config", true),
        (b".git ", "40000", ".git /config", true),
        (b"git~1", "40000", "git~1/config", true),
        (b"GIT~1", "100644", "GIT~1", true),
        (
            b".git::$INDEX_ALLOCATION",
            "40000",
            ".git::$INDEX_ALLOCATION/config",
            true,
        ),
        (b"..", "40000", "../config", true),
        (b".", "40000", "./config", true),
        (b".gitmodules", "120000", ".gitmodules", true),
        (b"GITMOD~1", "120000", "GITMOD~1", true),
        (b".git", "160000", ".git", true),
        (b"git~1", "160000", "git~1", true),
        (
            ".g\u{200c}it".as_bytes(),
            "40000",
            ".g\u{200c}it/config",
            false,
        ),
        (".\u{feff}GIT".as_bytes(), "100644", ".\u{feff}GIT", false),
    ];
    for (i, (name, mode, shown, git_refuses)) in cases.iter().enumerate() {
        let sb = Sandbox::new();
        let src = tree_with_entry(&sb, &format!("r{i}"), name, mode);
        let (code, err) = upstream_git_once(&sb, &src);
        let expected = format!("error: invalid path '{shown}'");
        if *git_refuses {
            assert_eq!(code, 128, "{shown}: {err}");
            assert!(err.contains(&expected), "{shown}: {err}");
        } else {
            assert_eq!(code, 0, "{shown}: {err}");
        }
        let r = outside_untouched(&sb, &sb.out, || sb.clone(&src));
        let last = last_error(&r, shown);
        assert_eq!(
            last,
            format!("Error fetching git repository: exit status 128: {expected}"),
            "{shown}"
        );
        // Nothing was checked out and `.git/config` is git-init's own.
        assert!(!sb.out.join("README").exists(), "{shown}");
        let config = std::fs::read_to_string(sb.out.join(".git/config")).unwrap();
        assert!(!config.contains("fsmonitor"), "{shown}");
    }
}

#[test]
fn symlink_then_directory_of_the_same_name_is_refused() {
    if no_git() {
        return;
    }
    // A tree with a symlink `a -> <outside>` and a directory `a/` holding `file`: written in
    // order, `a/file` would land in the symlink's target. git's checkout lets the later entry
    // replace the earlier one (`a/` becomes a directory, nothing outside is written); git-init
    // refuses a name that occurs twice in one tree: "error: invalid path 'a'" (stricter).
    let sb = Sandbox::new();
    let (r, target, _) = symlink_then_directory(&sb);
    let tg = tempfile::tempdir().unwrap();
    let wg = tg.path().join("w");
    assert_eq!(upstream_git(&sb.home, &r.dir, &wg).0, 0);
    assert!(wg.join("a").is_dir() && !wg.join("a").is_symlink());
    assert!(!target.join("file").exists());

    let run = outside_untouched(&sb, &sb.out, || sb.clone(&r.dir));
    assert!(
        last_error(&run, "").ends_with("exit status 128: error: invalid path 'a'"),
        "{}",
        run.stderr
    );
    assert!(!target.join("file").exists());
}

/// The same tree given straight to the two writers git-init's checkout uses, bypassing
/// its path check: neither may write through the symlink.
#[test]
fn writers_do_not_follow_symlinks_from_the_tree() {
    if no_git() {
        return;
    }
    let sb = Sandbox::new();
    let (r, target, commit) = symlink_then_directory(&sb);
    for writer in ["streamed", "libgit2"] {
        let dst = sb.root.join(format!("w-{writer}"));
        let repo = fetched_into(&sb, &dst, &r.dir);
        let tree = repo
            .find_commit(git2::Oid::from_str(&commit).unwrap())
            .unwrap()
            .tree()
            .unwrap();
        if writer == "streamed" {
            let git_init::fresh_checkout::Plan::Stream(n) =
                git_init::fresh_checkout::plan(&repo, &tree)
            else {
                panic!("expected the streamed writer to take this tree");
            };
            assert!(git_init::fresh_checkout::write(&repo, &tree, n).is_err());
        } else {
            let mut cb = git2::build::CheckoutBuilder::new();
            cb.force();
            // libgit2 replaces or refuses; either way nothing lands outside.
            let _ = repo.checkout_tree(tree.as_object(), Some(&mut cb));
        }
        assert!(!target.join("file").exists(), "{writer}");
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            1,
            "{writer} wrote into the symlink's target"
        );
    }
}

#[test]
fn libgit2_checkout_protects_ntfs_names_by_default() {
    if no_git() {
        return;
    }
    // Second line of defence: libgit2's own checkout (reused directories, sparse checkouts)
    // refuses `git~1` as git does with core.protectNTFS on, its default.
    let sb = Sandbox::new();
    let src = tree_with_entry(&sb, "src", b"git~1", "40000");
    let dst = sb.root.join("w");
    let repo = fetched_into(&sb, &dst, &src);
    let head = repo
        .find_reference("FETCH_HEAD")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    let mut cb = git2::build::CheckoutBuilder::new();
    cb.force();
    let err = repo
        .checkout_tree(head.as_object(), Some(&mut cb))
        .unwrap_err();
    assert!(
        err.message().contains("invalid path 'git~1/config'"),
        "{}",
        err.message()
    );
    assert!(!dst.join("git~1").exists());
}

#[test]
fn reused_checkout_replaces_symlinks_instead_of_writing_through_them() {
    if no_git() {
        return;
    }
    // A reused `-path` from an earlier run holds `docs -> <outside>` (committed, then removed
    // upstream) and the new revision has a directory `docs/` and a submodule at `sm`, which
    // also was a symlink before. git's checkout and git-init's (libgit2, as an index exists)
    // replace the symlinks; git-init checks a submodule's path for symlinks before cloning
    // (git's validate_submodule_path). Nothing outside changes.
    let sb = Sandbox::new();
    let (sub, sub_commit) = submodule_repo(&sb);
    let r = Raw::new(&sb, "src");
    let outside = sb.root.join("outside");
    let link = r.blob(outside.to_str().unwrap().as_bytes());
    let t1 = r.tree(&[("120000", b"docs", &link), ("120000", b"sm", &link)]);
    r.commit(&t1);
    let first = outside_untouched(&sb, &sb.out, || sb.clone(&r.dir));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(sb.out.join("docs").is_symlink());

    let file = r.blob(b"new\n");
    let docs = r.tree(&[("100644", b"keep", &file)]);
    let modules = r.blob(sm_gitmodules(&sub).as_bytes());
    let t2 = r.tree(&[
        ("100644", b".gitmodules", &modules),
        ("40000", b"docs", &docs),
        ("160000", b"sm", &sub_commit),
    ]);
    r.commit(&t2);
    let second = outside_untouched(&sb, &sb.out, || sb.clone(&r.dir));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(!sb.out.join("docs").is_symlink());
    assert_eq!(
        std::fs::read_to_string(sb.out.join("docs/keep")).unwrap(),
        "new\n"
    );
    assert!(!sb.out.join("sm").is_symlink());
    assert_eq!(
        std::fs::read_to_string(sb.out.join("sm/s.txt")).unwrap(),
        "sub\n"
    );
}

#[test]
fn nested_submodule_git_dirs_are_refused() {
    if no_git() {
        return;
    }
    // Names `a` and `a/hooks` would make the second submodule's repository the first one's
    // hooks directory. git: "submodule git dir '…/modules/a/hooks' is inside git dir
    // '…/modules/a'" and "refusing to create/use … in another submodule's git dir".
    let sb = Sandbox::new();
    let (sub, commit) = submodule_repo(&sb);
    let modules = format!(
        "[submodule \"a\"]\n\tpath = one\n\turl = {0}\n[submodule \"a/hooks\"]\n\tpath = two\n\turl = {0}\n",
        sub.display()
    );
    let sup = superproject(&sb, "super", &modules, &["one", "two"], &commit);
    let (code, err) = upstream_git_once(&sb, &sup);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("in another submodule's git dir"), "{err}");
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
    let last = last_error(&r, "");
    assert!(last.contains("in another submodule's git dir"), "{last}");
    assert!(!sb.out.join(".git/modules/a/hooks/HEAD").exists());
}

/// `fast-import` input committing `paths` (one shared blob) to `refs/heads/main`.
fn fast_import(sb: &Sandbox, name: &str, paths: impl Iterator<Item = String>) -> PathBuf {
    let dir = sb.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&sb.home, &dir, &["init", "-q", "-b", "main"]);
    let mut s = String::from("blob\nmark :1\ndata 2\nx\n\ncommit refs/heads/main\n");
    s.push_str("committer T <t@e> 1700000000 +0000\ndata 1\nc\n");
    for p in paths {
        s.push_str(&format!("M 100644 :1 {p}\n"));
    }
    s.push('\n');
    git_stdin(&sb.home, &dir, &["fast-import", "--quiet"], s.as_bytes());
    dir
}

#[test]
fn huge_flat_and_deep_trees_clone_like_git() {
    if no_git() {
        return;
    }
    // 4000 entries in one directory and a file 200 directories deep: git checks them out.
    let sb = Sandbox::new();
    let flat = fast_import(&sb, "flat", (0..4000).map(|i| format!("f{i:05}")));
    assert_eq!(upstream_git_once(&sb, &flat).0, 0);
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&flat));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&sb.out).unwrap().count(), 4001);

    let deep_path = format!("{}file", "d/".repeat(200));
    let deep = fast_import(&sb, "deep", std::iter::once(deep_path.clone()));
    let out = sb.workspace.join("deep");
    let r = outside_untouched(&sb, &out, || sb.clone_into(&deep, &out, &[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join(&deep_path)).unwrap(),
        "x\n"
    );
}

#[test]
fn trees_deeper_than_gits_limit_are_refused() {
    if no_git() {
        return;
    }
    // git since 2.43 refuses trees nested deeper than core.maxTreeDepth (2048): "exceeded
    // maximum allowed tree depth" (older git fails on the path length instead). git-init
    // checks the depth before writing anything.
    let sb = Sandbox::new();
    let deep = fast_import(
        &sb,
        "deep",
        std::iter::once(format!("{}file", "d/".repeat(2100))),
    );
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&deep));
    assert!(
        last_error(&r, "").ends_with("error: exceeded maximum allowed tree depth"),
        "{}",
        r.stderr
    );
    assert!(!sb.out.join("d").exists());
}

#[test]
fn path_through_a_symlink_in_the_workspace_is_refused() {
    if no_git() {
        return;
    }
    // A reused volume may hold symlinks an earlier Task left. git would follow them (`git
    // init` and checkout write into the target); git-init refuses, before writing anything,
    // a `-path` that is a symlink, a symlink between the workspace root and `-path`, and a
    // `.git` that is not a directory.
    let sb = Sandbox::new();
    let src = source_repo(&sb);
    let outside = sb.root.join("outside");
    std::os::unix::fs::symlink(&outside, sb.workspace.join("link")).unwrap();
    std::fs::create_dir_all(sb.workspace.join("dotgit")).unwrap();
    std::os::unix::fs::symlink(&outside, sb.workspace.join("dotgit/.git")).unwrap();
    std::fs::create_dir_all(sb.workspace.join("gitfile")).unwrap();
    write(
        &sb.workspace.join("gitfile/.git"),
        &format!("gitdir: {}\n", outside.display()),
    );
    for (path, why) in [
        (
            sb.workspace.join("link"),
            format!("{} is a symbolic link", sb.workspace.join("link").display()),
        ),
        (
            sb.workspace.join("link/sub"),
            format!("{} is a symbolic link", sb.workspace.join("link").display()),
        ),
        (
            sb.workspace.join("dotgit"),
            format!(
                "{} exists and is not a directory",
                sb.workspace.join("dotgit/.git").display()
            ),
        ),
        (
            sb.workspace.join("gitfile"),
            format!(
                "{} exists and is not a directory",
                sb.workspace.join("gitfile/.git").display()
            ),
        ),
    ] {
        let r = outside_untouched(&sb, &sb.root.join("none"), || {
            sb.clone_into(&src, &path, &[])
        });
        let last = last_error(&r, "");
        assert!(
            last.starts_with(&format!(
                "Error fetching git repository: invalid path \"{}\": {why}",
                path.display()
            )),
            "{last}"
        );
    }
}

#[test]
fn symlinks_above_the_workspace_are_followed() {
    if no_git() {
        return;
    }
    // The image's own symlinks (above the workspace root, or an absolute `-path` elsewhere)
    // are the Task author's choice: followed, as git does.
    let sb = Sandbox::new();
    let src = source_repo(&sb);
    std::fs::create_dir_all(sb.root.join("real")).unwrap();
    std::os::unix::fs::symlink(sb.root.join("real"), sb.root.join("alias")).unwrap();
    let r = sb.clone_into(&src, &sb.root.join("alias/out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(sb.root.join("real/out/f")).unwrap(),
        "x\n"
    );
}

#[test]
fn symlinked_submodule_git_dirs_in_a_reused_volume_are_refused() {
    if no_git() {
        return;
    }
    // An earlier Task left `<path>/.git/modules -> <outside>`. git would create the
    // submodule's repository in the target; git-init refuses (stricter).
    let sb = Sandbox::new();
    let (sub, commit) = submodule_repo(&sb);
    let modules = sm_gitmodules(&sub);
    let sup = superproject(&sb, "super", &modules, &["sm"], &commit);
    reused_git_dir(&sb);
    let outside = sb.root.join("outside");
    std::os::unix::fs::symlink(&outside, sb.out.join(".git/modules")).unwrap();
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
    let last = last_error(&r, "");
    assert!(
        last.ends_with(&format!(
            "error: expected '{0}/.git/modules' in submodule git dir '{0}/.git/modules/sm' not to be a symbolic link",
            sb.out.display()
        )),
        "{last}"
    );
}

#[test]
fn an_oversized_gitmodules_is_refused_with_one_line() {
    if no_git() {
        return;
    }
    // `.gitmodules` is read bounded, like every file git-init does not own (16 MiB, the bound
    // of the other git config files). git would parse a larger one; git-init refuses it
    // (stricter): one line naming the file, exit 1, the checkout left as written and no
    // submodule cloned. (The read itself is tested with a sparse 10 GiB file, a FIFO and a
    // symlink in the crate's unit tests; a committed file is always regular.)
    let sb = Sandbox::new();
    let (sub, commit) = submodule_repo(&sb);
    let mut modules = sm_gitmodules(&sub);
    let line = format!("# {}\n", "x".repeat(1021));
    while modules.len() <= 16 << 20 {
        modules.push_str(&line);
    }
    let sup = superproject(&sb, "super", &modules, &["sm"], &commit);
    let r = outside_untouched(&sb, &sb.out, || sb.clone(&sup));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let file = sb.out.join(".gitmodules");
    assert_eq!(
        r.messages().last().unwrap(),
        &format!(
            "Error fetching git repository: exit status 128: fatal: read {}: larger than 16777216 bytes",
            file.display()
        )
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        modules.len() as u64
    );
    assert!(!sb.out.join(".git/modules").exists());
}

/// Why git-init refuses a symlinked entry of a reused `.git`.
const SYMLINK_REFUSED: &str =
    "a symbolic link; git-init does not write through symbolic links in a reused .git";

/// Moves `<git_dir>/<rel>` to `outside` and leaves a symlink to it in its place.
fn move_out_and_link_back(git_dir: &Path, rel: &str, outside: &Path) {
    std::fs::rename(git_dir.join(rel), outside).unwrap();
    std::os::unix::fs::symlink(outside, git_dir.join(rel)).unwrap();
}

#[test]
fn symlinks_and_fifos_in_a_reused_dot_git_are_refused() {
    if no_git() {
        return;
    }
    // An earlier Task left `<path>/.git` with entries moved outside and symlinked back (as
    // `git-new-workdir` does). git follows them:
    // the fetch writes packs into a symlinked `objects`, `git config` writes `cfg.lock` beside
    // the target of a symlinked `config` and renames it over the target. git-init refuses,
    // before writing anything (stricter), a symlink wherever it writes in a reused `.git`,
    // and a FIFO/device/socket there (libgit2 would block opening a FIFO `config`).
    let outside = |sb: &Sandbox| sb.root.join("outside");
    type Plant = fn(&Path, &Path);
    let cases: &[(&str, Plant, &str)] = &[
        (
            "objects",
            |git_dir, out| move_out_and_link_back(git_dir, "objects", &out.join("objects")),
            SYMLINK_REFUSED,
        ),
        (
            "config",
            |git_dir, out| move_out_and_link_back(git_dir, "config", &out.join("cfg")),
            SYMLINK_REFUSED,
        ),
        (
            "refs/heads",
            |git_dir, out| move_out_and_link_back(git_dir, "refs/heads", &out.join("heads")),
            SYMLINK_REFUSED,
        ),
        (
            "objects/pack",
            |git_dir, out| move_out_and_link_back(git_dir, "objects/pack", &out.join("pack")),
            SYMLINK_REFUSED,
        ),
        (
            "config",
            |git_dir, _| {
                let config = git_dir.join("config");
                std::fs::remove_file(&config).unwrap();
                let c = std::ffi::CString::new(config.to_str().unwrap()).unwrap();
                // SAFETY: a valid C string.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            },
            "a fifo; git-init reuses only regular files and directories in a .git",
        ),
    ];
    for (entry, plant, why) in cases {
        let sb = Sandbox::new();
        let src = source_repo(&sb);
        let git_dir = reused_git_dir(&sb);
        plant(&git_dir, &outside(&sb));
        let r = outside_untouched(&sb, &sb.out, || sb.clone(&src));
        assert_eq!(r.code, 1, "{entry}: {}", r.stderr);
        assert_eq!(
            r.messages().last().unwrap(),
            &format!(
                "Error fetching git repository: invalid path \"{}\": {} is {why}",
                sb.out.display(),
                git_dir.join(entry).display()
            ),
            "{entry}"
        );
        assert!(!sb.out.join("f").exists(), "{entry}");
    }
}

#[test]
fn fifos_or_huge_git_files_left_in_a_reused_work_tree_are_refused() {
    if no_git() {
        return;
    }
    // The new tree has a gitlink but no `.gitmodules`, so checkout leaves the one an earlier
    // Task left. libgit2's checkout (a work tree that is not empty) looks the gitlink up and
    // reads that file unbounded, and every `.gitignore`/`.gitattributes` too: a FIFO hung
    // git-init, a sparse 10 GiB file would be read whole (git blocks on the FIFO too).
    // git-init refuses them before checkout: one line, exit 1, nothing checked out.
    let sb = Sandbox::new();
    let (_, commit) = submodule_repo(&sb);
    let r = Raw::new(&sb, "super");
    let readme = r.blob(b"hello\n");
    let t = r.tree(&[("100644", b"README", &readme), ("160000", b"sm", &commit)]);
    r.commit(&t);
    for (name, kind, why) in [
        (".gitmodules", "fifo", "not a regular file (fifo)"),
        (".gitmodules", "sparse", "larger than 16777216 bytes"),
        // libgit2's checkout reads each directory's ignore and attribute files as well.
        ("docs/.gitignore", "fifo", "not a regular file (fifo)"),
        (".gitattributes", "sparse", "larger than 16777216 bytes"),
    ] {
        let file = sb.out.join(name);
        let _ = std::fs::remove_dir_all(&sb.out);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        if kind == "fifo" {
            let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        } else {
            std::fs::File::create(&file)
                .unwrap()
                .set_len(10 << 30)
                .unwrap();
        }
        let run = outside_untouched(&sb, &sb.out, || {
            let mut cmd = git_init_command(
                &sb.root,
                &[
                    &format!("-url={}", r.dir.display()),
                    &format!("-path={}", sb.out.display()),
                    &format!("-terminationMessagePath={}", sb.term.display()),
                    "-userFriendlyErrors=false",
                ],
            );
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while child.try_wait().unwrap().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{kind}: git-init blocked on .gitmodules");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            }
        });
        assert_eq!(run.code, 1, "{name} {kind}: {}", run.stderr);
        assert_eq!(
            run.messages().last().unwrap(),
            &format!(
                "Error fetching git repository: exit status 128: fatal: read {}: {why}",
                file.display()
            ),
            "{name} {kind}"
        );
        assert!(!sb.out.join("README").exists(), "{name} {kind}");
    }
}

#[test]
fn hostile_input_is_refused_in_the_v037_flavour_too() {
    if no_git() {
        return;
    }
    // The checks live in the clone both flavours share; one input of each kind again, with
    // v0.37.2's argv and environment. Its failures read `Error fetching git repository: exit
    // status N`, after the `Error running git` line that carries git's output.
    let error_line = |r: &Run, needle: &str| {
        r.json_lines().iter().any(|l| {
            l["level"] == "error"
                && l["caller"] == "git/git.go:55"
                && l["msg"].as_str().is_some_and(|m| m.contains(needle))
        })
    };
    let assert_failed = |r: &Run, needle: &str| {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(error_line(r, needle), "{needle}: {}", r.stderr);
        let last = r.json_lines().last().cloned().unwrap_or_default();
        assert_eq!(last["level"], "fatal", "{}", r.stderr);
        assert_eq!(last["caller"], "git-init/main.go:54", "{}", r.stderr);
        assert!(
            last["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("Error fetching git repository: ")),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("Retrying operation"));
    };

    // A `.git` spelling in the tree: nothing checked out.
    let sb = Sandbox::new();
    let src = tree_with_entry(&sb, "r", b".GIT", "40000");
    let r = outside_untouched(&sb, &sb.out, || sb.clone_v037(&src, &sb.out));
    assert_failed(&r, "error: invalid path '.GIT/config'");
    assert_eq!(
        r.messages().last().unwrap(),
        "Error fetching git repository: exit status 128"
    );
    assert!(!sb.out.join("README").exists());
    let config = std::fs::read_to_string(sb.out.join(".git/config")).unwrap();
    assert!(!config.contains("fsmonitor"));

    // A traversal submodule name and an option-like submodule URL: ignored with git's
    // warnings, the update fails, nothing escapes.
    for (i, (name, url)) in [
        ("../../../escaped", "SUB"),
        ("x", "--upload-pack=touch /tmp/pwned"),
    ]
    .iter()
    .enumerate()
    {
        let sb = Sandbox::new();
        let (sub, commit) = submodule_repo(&sb);
        let url = url.replace("SUB", &sub.display().to_string());
        let modules = format!("[submodule \"{name}\"]\n\tpath = sm\n\turl = {url}\n");
        let sup = superproject(&sb, &format!("super{i}"), &modules, &["sm"], &commit);
        let r = outside_untouched(&sb, &sb.out, || sb.clone_v037(&sup, &sb.out));
        assert_failed(
            &r,
            "fatal: No url found for submodule path 'sm' in .gitmodules",
        );
        assert!(
            r.json_lines().iter().any(|l| l["level"] == "warn"
                && l["msg"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("ignoring "))),
            "{}",
            r.stderr
        );
        assert!(!sb.out.join(".git/modules").exists());
        assert_no_escaped(&sb);
        assert!(!Path::new("/tmp/pwned").exists());
    }

    // A symlink on the way to -path, and one in a reused .git: refused before writing.
    let sb = Sandbox::new();
    let src = source_repo(&sb);
    let outside = sb.root.join("outside");
    std::os::unix::fs::symlink(&outside, sb.workspace.join("link")).unwrap();
    let path = sb.workspace.join("link/sub");
    let r = outside_untouched(&sb, &sb.root.join("none"), || sb.clone_v037(&src, &path));
    assert!(
        last_error(&r, "").starts_with(&format!(
            "Error fetching git repository: invalid path \"{}\": {} is a symbolic link",
            path.display(),
            sb.workspace.join("link").display()
        )),
        "{}",
        r.stderr
    );
    reused_git_dir(&sb);
    move_out_and_link_back(&sb.out.join(".git"), "objects", &outside.join("objects"));
    let r = outside_untouched(&sb, &sb.out, || sb.clone_v037(&src, &sb.out));
    assert!(
        last_error(&r, "").ends_with(SYMLINK_REFUSED),
        "{}",
        r.stderr
    );
    assert!(!sb.out.join("f").exists());
    assert!(!sb.term.exists());
}
