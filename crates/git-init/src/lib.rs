//! `git-init`: Tekton's clone helper (catalog git-clone Task and Pipelines v0.37.2) on libgit2.
//!
//! The observable sequence is upstream's — `git init`, `origin`, sparse patterns, a fetch of the
//! revision or refspec with depth, `checkout -f`, recursive submodule update, the result JSON and
//! zap log lines — but no `git` or `ssh` process is started: credentials, host keys, proxies and
//! URL rewriting are read from the user's configuration by this crate (see the modules). Which
//! upstream's details a run follows (the catalog's or v0.37.2's) is [`flavour`]'s decision.

pub mod checkout;
pub mod config;
pub mod creds;
pub mod error;
pub mod fetch;
pub mod flags;
pub mod flavour;
pub mod fresh_checkout;
pub mod home;
pub mod pathcheck;
pub mod results;
pub mod retry;
pub mod sparse;
pub mod submodules;
pub mod tls;
pub mod zap;

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use git2::{Repository, RepositoryInitOptions};

use crate::config::GlobalConfig;
use crate::error::{Failure, FriendlyContext, GitError, go_list, redact_url};
use crate::fetch::{FetchRequest, Session};
use crate::flags::Options;
use crate::flavour::Flavour;
use crate::zap::{Level, Logger, callers};

/// Seconds between fetch progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What a successful clone produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// HEAD commit.
    pub commit: String,
    /// HEAD's committer time, seconds since the epoch (`git log -1 --pretty=%ct`).
    pub committer_date: i64,
}

/// Process-wide libgit2 settings: no owner checks (uid 65532, foreign-owned volumes), no
/// implicit global/system config (read explicitly by [`GlobalConfig`]). TLS is set up by
/// [`tls`] on the first `https://` connection.
pub fn init_libgit2() {
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

/// Logs a failed emulated git command like upstream's `run()`.
fn log_git_failure(log: &Logger, e: &GitError) {
    log.error(
        callers().run_git,
        &redact_url(&format!(
            "Error running git {}: {}\n{}",
            go_list(&e.args),
            e.exit_text(),
            e.output
        )),
    );
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
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
                capitalized(&results::go_errno_text(&e))
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
pub fn target_dir(path: &str) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let p = if path.is_empty() { cwd } else { cwd.join(path) };
    submodules::normalize(&p)
}

fn config_err(args_v: &[&str], e: git2::Error) -> GitError {
    GitError {
        args: args(args_v),
        output: format!("error: {}\n", e.message()),
        status: 255,
        transient: false,
    }
}

/// Upstream's `git.Fetch`: everything up to and including the submodule update, with the
/// details of `flavour`.
pub fn clone(
    log: &Logger,
    o: &Options,
    flavour: Flavour,
    creds_dir: &Path,
) -> Result<Outcome, Failure> {
    let git_failure = |e: GitError| flavour.git_failure(e);
    tls::defer_openssl_init();
    let cfg = GlobalConfig::load();
    init_libgit2();
    tls::register(tls::TrustStore::new(&cfg));
    if home::home_dir().is_none() {
        log.warn(
            callers().home_dir,
            "Unexpected error getting the user home directory: $HOME is not set and the user has no passwd entry; continuing without user configuration",
        );
    }
    home::validate_git_auth(log, creds_dir, &o.url, flavour);
    validate_inputs(o)?;
    let trimmed_url = o.url.trim().to_string();
    let dir = target_dir(&o.path);
    validate_target_dir(
        &o.path,
        &dir,
        stepkit_layout::Layout::from_env().workspace(),
    )?;
    let repo = init_repository(&dir, &o.path, &cfg)
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
        Ok(_) => repo.remote_set_url("origin", &trimmed_url).map_err(|e| {
            git_failure(config_err(
                &["remote", "set-url", "origin", &trimmed_url],
                e,
            ))
            .context("failed to update origin remote URL")
        })?,
        Err(_) => {
            repo.remote("origin", &trimmed_url).map_err(|e| {
                let f = git_failure(config_err(&["remote", "add", "origin", &trimmed_url], e));
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
        Err(e) if home::is_ssh_url(&trimmed_url) || trimmed_url.starts_with("ssh://") => {
            let p = ssh_home.join(".ssh/known_hosts");
            return Err(Failure::msg(format!(
                "error checking for known_hosts file: {}",
                results::go_io_error("open", &p, &e)
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

    let mut fetch_args = args(&["fetch"]);
    if o.submodules {
        fetch_args.push("--recurse-submodules=yes".into());
    }
    if o.depth > 0 {
        fetch_args.push(format!("--depth={}", o.depth));
        // No remote-tracking refs for the catalog's shallow clones (absent is fine); v0.37.2
        // keeps the refspec, so the fetched branch lands in refs/remotes/origin/ too.
        if flavour == Flavour::Catalog {
            let _ = repo_cfg.remove_multivar("remote.origin.fetch", ".*");
        }
    }
    let (fetch_param, checkout_param): (Vec<String>, String) = if o.refspec.is_empty() {
        (vec![o.revision.clone()], "FETCH_HEAD".to_string())
    } else {
        (
            o.refspec.split(' ').map(str::to_string).collect(),
            o.revision.clone(),
        )
    };
    fetch_args.extend(args(&["origin", "--update-head-ok", "--force"]));
    fetch_args.extend(fetch_param.iter().cloned());

    let session = Session {
        log,
        cfg,
        ssl_verify: o.ssl_verify,
        ssh_home,
        // v0.37.2 logged nothing while git ran.
        progress_every: (flavour == Flavour::Catalog).then_some(PROGRESS_EVERY),
        flavour,
    };
    let req = FetchRequest {
        repo: &repo,
        url: &trimmed_url,
        specs: fetch_param.clone(),
        depth: o.depth,
        args: fetch_args,
    };
    let res = attempts(log, o, flavour, || {
        fetch::fetch(&session, &req).inspect_err(|e| log_git_failure(log, e))
    });
    res.map_err(|e| git_failure(e).context(&format!("failed to fetch {}", go_list(&fetch_param))))?;

    let target = checkout::resolve_checkout(&repo, &checkout_param).map_err(|msg| {
        let e = GitError::fatal(
            args(&["show", "-q", "--pretty=format:%H", &checkout_param]),
            &msg,
        );
        log_git_failure(log, &e);
        let what = format!(
            "error parsing {checkout_param} after fetching refspec {}",
            o.refspec
        );
        match flavour {
            Flavour::Catalog => Failure::from(e).context(&what),
            // v0.37.2 dropped the cause here.
            Flavour::Pipelines037 => Failure {
                message: what,
                git: Some(e),
            },
        }
    })?;
    checkout::checkout(&repo, &target).map_err(|e| {
        let e = GitError {
            args: args(&["checkout", "-f", &checkout_param]),
            output: e.output(),
            status: 128,
            transient: false,
        };
        log_git_failure(log, &e);
        git_failure(e)
    })?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        git_failure(GitError::fatal(
            args(&["show", "-q", "--pretty=format:%H", "HEAD"]),
            e.message(),
        ))
    })?;
    let commit = head.id().to_string();
    let committer_date = head.committer().when().seconds();
    let refs = checkout::decorations(&repo);
    log.info(
        callers().cloned,
        &redact_url(&format!(
            "Successfully cloned {trimmed_url} @ {commit} ({refs}) in path {}",
            o.path
        )),
    );

    if o.submodules {
        // v0.37.2's argv had no --force (and no paths: it had no -submodulePaths). The update
        // is the catalog's in both flavours, forced; in a fresh clone that changes nothing.
        let mut update_args = args(&["submodule", "update", "--recursive", "--init"]);
        if flavour == Flavour::Catalog {
            update_args.push("--force".to_string());
        }
        if o.depth > 0 {
            update_args.push(format!("--depth={}", o.depth));
        }
        update_args.extend(o.submodule_paths.iter().cloned());
        let update = submodules::Update {
            depth: o.depth,
            paths: &o.submodule_paths,
            args: update_args,
        };
        attempts(log, o, flavour, || {
            submodules::update(&session, &repo, &trimmed_url, &update)
                .inspect_err(|e| log_git_failure(log, e))
        })
        .map_err(git_failure)?;
        log.info(
            callers().submodules,
            &format!(
                "Successfully initialized and updated submodules in path {}",
                o.path
            ),
        );
    }
    Ok(Outcome {
        commit,
        committer_date,
    })
}

/// Runs `op` with the catalog's retries, or once (v0.37.2 had no retry loop, so no
/// `Retrying operation` lines either).
fn attempts<T>(
    log: &Logger,
    o: &Options,
    flavour: Flavour,
    mut op: impl FnMut() -> Result<T, GitError>,
) -> Result<T, GitError> {
    match flavour {
        Flavour::Catalog => retry::retry_with_backoff(log, &o.retry, op, std::thread::sleep).0,
        Flavour::Pipelines037 => op(),
    }
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
            let m = results::go_io_error("open", &file, &e);
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
        let m = results::go_io_error("write", &file, &e);
        log.error(
            callers().sparse_write,
            &format!("failed to write to sparse-checkout file: {m}"),
        );
        Failure::msg(m)
    })
}

/// The whole program: flags, clone, results. Returns the exit code.
pub fn run(argv: &[String]) -> i32 {
    let program = argv.first().map(String::as_str).unwrap_or("git-init");
    let layout = stepkit_layout::Layout::from_env();
    let default_termination = layout.termination_file().to_string_lossy().into_owned();
    let opts = match flags::parse(program, argv.get(1..).unwrap_or(&[]), &default_termination) {
        Ok(o) => o,
        Err((goflag::FlagError::Help, usage)) => {
            goflag::print_failure(None, &usage);
            return 0;
        }
        Err((goflag::FlagError::Invalid(msg), usage)) => {
            goflag::print_failure(Some(&msg), &usage);
            return 2;
        }
    };
    let resource = std::env::var("TEKTON_RESOURCE_NAME").unwrap_or_default();
    let flavour = Flavour::detect(&resource, opts.catalog_flags_given);
    zap::use_callers(flavour.callers());
    let log = Logger::stderr(zap::STACKTRACE);
    let outcome = match clone(&log, &opts, flavour, &layout.creds_dir()) {
        Ok(o) => o,
        Err(err) => {
            let msg = format!(
                "Error fetching git repository: {}",
                redact_url(&err.message)
            );
            // v0.37.2 had no user-friendly block (nor the flag).
            if opts.user_friendly_errors && flavour == Flavour::Catalog {
                log.log(Level::Error, callers().main_friendly, &msg);
                let ctx = FriendlyContext {
                    url: &opts.url,
                    revision: &opts.revision,
                    refspec: &opts.refspec,
                    depth: opts.depth,
                };
                goflag::print_failure(None, &error::format_user_friendly_error(&ctx, &err));
            } else {
                log.log(Level::Fatal, callers().main_fetch, &msg);
            }
            return 1;
        }
    };
    // The URL without its userinfo: results are readable by anyone who can read the TaskRun.
    let url = redact_url(&opts.url);
    if flavour == Flavour::Pipelines037 {
        return write_resource_results(&log, &opts, &resource, &outcome.commit, &url);
    }
    let date = outcome.committer_date.to_string();
    // The catalog git-init's exact entries: `committer-date` is only a result file (below).
    let entries = [
        results::Entry::new("commit", &outcome.commit, &resource),
        results::Entry::new("url", &url, &resource),
    ];
    let term = Path::new(&opts.termination_message_path);
    if let Err(e) = results::write_termination_message(term, &entries) {
        log.log(
            Level::Fatal,
            callers().main_write,
            &format!(
                "Error writing message to {} : {e}",
                opts.termination_message_path
            ),
        );
        return 1;
    }
    let results_dir = layout.results_dir();
    if results_dir.is_dir() {
        for (name, value) in [
            ("commit", outcome.commit.as_str()),
            ("url", url.as_str()),
            ("committer-date", date.as_str()),
        ] {
            if let Err(e) = results::write_result_file(&results_dir, name, value) {
                log.log(
                    Level::Fatal,
                    callers().main_write,
                    &format!(
                        "Error writing result {name} to {} : {e}",
                        results_dir.display()
                    ),
                );
                return 1;
            }
        }
    }
    0
}

/// v0.37.2's results: `commit` and `url` of the PipelineResource `resource`, appended to the
/// termination message (the controller copies them to `status.resourcesResult`); nothing
/// else, no result files. Returns the exit code.
fn write_resource_results(
    log: &Logger,
    opts: &Options,
    resource: &str,
    commit: &str,
    url: &str,
) -> i32 {
    let entry = |key: &str, value: &str| termination::RunResult {
        resource_name: resource.to_string(),
        ..termination::RunResult::new(key, value, 0)
    };
    let entries = [entry("commit", commit), entry("url", url)];
    let path = Path::new(&opts.termination_message_path);
    match termination::write_message(path, &entries, false) {
        Ok(()) => 0,
        Err(e) => {
            log.log(
                Level::Fatal,
                callers().main_write,
                &format!(
                    "Error writing message to {} : {e}",
                    opts.termination_message_path
                ),
            );
            1
        }
    }
}
