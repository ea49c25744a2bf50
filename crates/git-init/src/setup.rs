//! The set-up phase: everything before the fetch. Process-wide libgit2 settings, the checks of
//! the inputs and of the directory the clone goes to (docs/git-init.md, "Hostile input"), then
//! the repository as upstream's `git init`, `git config` and `git remote add` leave it.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use git2::{Repository, RepositoryInitOptions};

use crate::config::GlobalConfig;
use crate::error::{Failure, GitError};
use crate::flags::Options;
use crate::flavour::Flavour;
use crate::zap::{Logger, callers};
use crate::{args, home, log_git_failure, submodules, tls};

/// libgit2 and TLS settings for this process, and the user's global git configuration they
/// are read from (CA files, URL rewrites, credentials).
pub fn process_settings() -> GlobalConfig {
    tls::defer_openssl_init();
    let cfg = GlobalConfig::load();
    init_libgit2();
    tls::register(tls::TrustStore::new(&cfg));
    cfg
}

/// Process-wide libgit2 settings: no owner checks (uid 65532, foreign-owned volumes), no
/// implicit global/system config (read explicitly by [`GlobalConfig`]). TLS is set up by
/// [`tls`] on the first `https://` connection.
fn init_libgit2() {
    // Objects were verified by the indexer when they arrived; re-hashing on every read only
    // slows the checkout down.
    git2::opts::strict_hash_verification(false);
    // Trees and commits are read once by a clone; libgit2's object cache (up to 256 MiB)
    // would only keep them resident (~1.5 MiB at 20k files).
    git2::opts::enable_caching(false);
    // SAFETY: called once, before any other libgit2 use in this process.
    unsafe {
        // Small pack windows with a low mapped limit keep the peak RSS down on big packs
        // (defaults: 1 GiB windows, 8 GiB mapped).
        let _ = git2::opts::set_mwindow_size(256 << 10);
        let _ = git2::opts::set_mwindow_mapped_limit(1 << 20);
        let _ = git2::opts::set_verify_owner_validation(false);
        for level in [
            git2::ConfigLevel::System,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::Global,
            git2::ConfigLevel::ProgramData,
        ] {
            let _ = git2::opts::set_search_path(level, "");
        }
    }
}

/// Rejects inputs that upstream would pass to git as options or paths outside the workspace.
pub fn validate_inputs(o: &Options) -> Result<(), Failure> {
    if o.revision.starts_with('-') {
        return Err(Failure::msg(format!(
            "invalid revision {}: must not start with '-'",
            goflag::go_quote(&o.revision)
        )));
    }
    if o.refspec.split(' ').any(|r| r.starts_with('-')) {
        return Err(Failure::msg(format!(
            "invalid refspec {}: no element may start with '-'",
            goflag::go_quote(&o.refspec)
        )));
    }
    if o.path.starts_with('-') {
        return Err(Failure::msg(format!(
            "invalid path {}: must not start with '-'",
            goflag::go_quote(&o.path)
        )));
    }
    let p = Path::new(&o.path);
    if p.is_relative() {
        let mut depth: i64 = 0;
        for c in p.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return Err(Failure::msg(format!(
                    "invalid path {}: a relative path must stay inside the working directory",
                    goflag::go_quote(&o.path)
                )));
            }
        }
    }
    Ok(())
}

/// The `-path` rule (docs/git-init.md, "Hostile input"): the clone must not be redirected by
/// a symlink that a reused volume holds. Refused, before anything is written: `-path` itself
/// being a symlink, a symlink on the way to it below the workspace root (`/workspace`, where
/// earlier Tasks wrote), and a `.git` that is not a directory (a symlink, or a gitfile
/// pointing elsewhere). Symlinks above the workspace root are the image's and are followed.
pub fn validate_target_dir(path: &str, dir: &Path, workspace: &Path) -> Result<(), Failure> {
    let is_symlink =
        |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let refuse =
        |why: String| Failure::msg(format!("invalid path {}: {why}", goflag::go_quote(path)));
    let below_workspace = dir
        .ancestors()
        .skip(1)
        .filter(|a| a.starts_with(workspace) && *a != workspace);
    for p in std::iter::once(dir).chain(below_workspace) {
        if is_symlink(p) {
            return Err(refuse(format!(
                "{} is a symbolic link; git-init does not clone through symbolic links",
                p.display()
            )));
        }
    }
    let dot_git = dir.join(".git");
    if let Ok(m) = std::fs::symlink_metadata(&dot_git) {
        if !m.is_dir() {
            return Err(refuse(format!(
                "{} exists and is not a directory; git-init reuses only a .git directory",
                dot_git.display()
            )));
        }
        reused_git_dir_entries(&dot_git).map_err(refuse)?;
    }
    Ok(())
}

/// The reused-`.git` rule (docs/git-init.md, "Hostile input"): what git-init writes in a `.git`
/// an earlier Task left — `config`, `HEAD`, `index`, `shallow`, `FETCH_HEAD`, refs and their
/// logs, packs in `objects/pack`, `info/sparse-checkout` — must not lead outside it. libgit2,
/// like git, writes a file's lock beside its symlink's target and follows symlinked
/// directories, so a symlink is refused wherever git-init writes: any entry of `.git` itself
/// (but `modules`, checked per submodule), of `objects/`, `objects/pack/` and
/// `objects/info/`, and anything under `refs/`, `logs/` and `info/`. Stricter than git, which
/// follows them all. A FIFO, device or socket there is refused too: libgit2 would block
/// opening a FIFO `config`. `Err` is the reason, naming the entry.
fn reused_git_dir_entries(dot_git: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let mut pending: Vec<PathBuf> = vec![dot_git.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if dir == dot_git && name == "modules" {
                continue;
            }
            let Ok(ft) = entry.file_type() else {
                continue;
            };
            let what = if ft.is_symlink() {
                return Err(format!(
                    "{} is a symbolic link; git-init does not write through symbolic links in a reused .git",
                    path.display()
                ));
            } else if ft.is_fifo() {
                "a fifo"
            } else if ft.is_socket() {
                "a socket"
            } else if ft.is_block_device() || ft.is_char_device() {
                "a device"
            } else {
                if ft.is_dir() {
                    let rel = path.strip_prefix(dot_git).unwrap_or(&path);
                    let everything_under =
                        ["refs", "logs", "info"].iter().any(|d| rel.starts_with(d));
                    let entries_of = ["objects", "objects/pack", "objects/info"]
                        .iter()
                        .any(|d| rel == Path::new(d));
                    if everything_under || entries_of {
                        pending.push(path);
                    }
                }
                continue;
            };
            return Err(format!(
                "{} is {what}; git-init reuses only regular files and directories in a .git",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Creates the directory the way `git init <path>` reports failures.
fn init_repository(path: &Path, shown: &str, cfg: &GlobalConfig) -> Result<Repository, GitError> {
    let init_args = if shown.is_empty() {
        args(&["init"])
    } else {
        args(&["init", shown])
    };
    if let Err(e) = std::fs::create_dir_all(path) {
        return Err(GitError::fatal(
            init_args,
            &format!(
                "cannot mkdir {}: {}",
                shown,
                capitalized(&gocompat::fs::io_error_text(&e))
            ),
        ));
    }
    let branch = cfg
        .get("init", "defaultbranch")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "master".to_string());
    let mut opts = RepositoryInitOptions::new();
    opts.mkpath(true)
        .no_reinit(false)
        .initial_head(&branch)
        .external_template(false);
    Repository::init_opts(path, &opts).map_err(|e| {
        GitError::fatal(
            init_args,
            &format!("{}: {}", path.join(".git").display(), e.message()),
        )
    })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The directory the clone goes to: `-path` resolved against the working directory.
fn target_dir(path: &str) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let p = if path.is_empty() { cwd } else { cwd.join(path) };
    submodules::normalize(&p)
}

pub(crate) fn config_err(args_v: &[&str], e: git2::Error) -> GitError {
    GitError {
        args: args(args_v),
        output: format!("error: {}\n", e.message()),
        status: 255,
        transient: false,
    }
}

/// The inputs checked, then `git init`, `safe.directory`, sparse patterns, `origin`, the SSH
/// host-key policy and `http.sslVerify`, each failing as upstream's git command would.
pub fn prepare_repository(
    log: &Logger,
    o: &Options,
    flavour: Flavour,
    cfg: &GlobalConfig,
    url: &str,
) -> Result<Repository, Failure> {
    let git_failure = |e: GitError| flavour.git_failure(e);
    validate_inputs(o)?;
    let dir = target_dir(&o.path);
    validate_target_dir(
        &o.path,
        &dir,
        stepkit_layout::Layout::from_env().workspace(),
    )?;
    let repo = init_repository(&dir, &o.path, cfg)
        .inspect_err(|e| log_git_failure(log, e))
        .map_err(git_failure)?;
    let safe = if o.path.is_empty() {
        "/"
    } else {
        o.path.as_str()
    };
    if let Err(e) = cfg.add_safe_directory(safe) {
        log.warn(
            callers().progress,
            &format!(
                "Could not add safe.directory {safe} to the global git config (continuing): {e}"
            ),
        );
    }
    let mut repo_cfg = repo
        .config()
        .map_err(|e| git_failure(config_err(&["config", "--list"], e)))?;

    if !o.sparse_checkout_directories.is_empty() {
        repo_cfg
            .set_str("core.sparsecheckout", "true")
            .map_err(|e| config_err(&["config", "core.sparsecheckout", "true"], e))
            .inspect_err(|e| log_git_failure(log, e))
            .map_err(git_failure)?;
        append_sparse_patterns(log, &repo, &o.sparse_checkout_directories)?;
    }

    // `git remote add` also writes the fetch refspec `+refs/heads/*:refs/remotes/origin/*`.
    // v0.37.2 always ran `remote add`, which fails on a reused directory; git-init replaces
    // the URL there, as the catalog does.
    match repo.find_remote("origin") {
        Ok(_) => repo.remote_set_url("origin", url).map_err(|e| {
            git_failure(config_err(&["remote", "set-url", "origin", url], e))
                .context("failed to update origin remote URL")
        })?,
        Err(_) => {
            repo.remote("origin", url).map_err(|e| {
                let f = git_failure(config_err(&["remote", "add", "origin", url], e));
                match flavour {
                    Flavour::Catalog => f.context("failed to add origin remote"),
                    Flavour::Pipelines037 => f,
                }
            })?;
        }
    }

    let ssh_home = home::ssh_home();
    match home::user_has_known_hosts(&ssh_home) {
        Ok(true) => {}
        Ok(false) => {
            let cmd = "ssh -o StrictHostKeyChecking=accept-new";
            if let Err(e) = repo_cfg.set_str("core.sshCommand", cmd) {
                let e = config_err(&["config", "core.sshCommand", cmd], e);
                log_git_failure(log, &e);
                let f = git_failure(e).context("error disabling strict host key checking");
                log.warn(callers().ssh_command, &f.message);
                return Err(f);
            }
        }
        Err(e) if home::is_ssh_url(url) || url.starts_with("ssh://") => {
            let p = ssh_home.join(".ssh/known_hosts");
            return Err(Failure::msg(format!(
                "error checking for known_hosts file: {}",
                gocompat::fs::path_error("open", &p, &e)
            )));
        }
        // Not needed for non-SSH URLs (upstream fails here anyway).
        Err(_) => {}
    }
    let verify = if o.ssl_verify { "true" } else { "false" };
    if let Err(e) = repo_cfg.set_str("http.sslVerify", verify) {
        let f = git_failure(config_err(&["config", "http.sslVerify", verify], e));
        if let Some(e) = &f.git {
            log_git_failure(log, e);
        }
        log.warn(
            callers().ssl_verify,
            &format!("Failed to set http.sslVerify in git config: {}", f.message),
        );
        return Err(f);
    }
    if o.depth > 0 && flavour == Flavour::Catalog {
        // No remote-tracking refs for the catalog's shallow clones (absent is fine); v0.37.2
        // keeps the refspec, so the fetched branch lands in refs/remotes/origin/ too.
        let _ = repo_cfg.remove_multivar("remote.origin.fetch", ".*");
    }
    Ok(repo)
}

/// Appends the comma-separated patterns to `.git/info/sparse-checkout` (upstream appends too).
fn append_sparse_patterns(log: &Logger, repo: &Repository, dirs: &str) -> Result<(), Failure> {
    let info = repo.path().join("info");
    let _ = std::fs::create_dir_all(&info);
    let file = info.join("sparse-checkout");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&file)
        .map_err(|e| {
            let m = gocompat::fs::path_error("open", &file, &e);
            log.error(
                callers().sparse_open,
                &format!("failed to open sparse-checkout file: {m}"),
            );
            Failure::msg(m)
        })?;
    let mut text = String::new();
    for p in dirs.split(',') {
        text.push_str(p);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(|e| {
        let m = gocompat::fs::path_error("write", &file, &e);
        log.error(
            callers().sparse_write,
            &format!("failed to write to sparse-checkout file: {m}"),
        );
        Failure::msg(m)
    })
}
