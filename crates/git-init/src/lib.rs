//! `git-init`: Tekton's clone helper (catalog git-clone Task and Pipelines v0.37.2) on libgit2.
//!
//! The observable sequence is upstream's — `git init`, `origin`, sparse patterns, a fetch of the
//! revision or refspec with depth, `checkout -f`, recursive submodule update, the result JSON and
//! zap log lines — but no `git` or `ssh` process is started: credentials, host keys, proxies and
//! URL rewriting are read from the user's configuration by this crate (see the modules). Which
//! upstream's details a run follows (the catalog's or v0.37.2's) is [`flavour`]'s decision.
//!
//! [`run`] is the program: flags, [`clone`], results. [`clone`] is four phases, in order:
//! [`setup`] (libgit2, input checks, `git init` and config), `fetch_revision` ([`fetch`]),
//! `check_out` ([`checkout`], [`fresh_checkout`] for an empty work tree), and
//! `update_submodules` ([`submodules`]).

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
pub mod setup;
pub mod sparse;
pub mod submodules;
pub mod tls;
pub mod zap;

use std::path::Path;
use std::time::Duration;

use git2::Repository;

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

/// Logs a failed emulated git command like upstream's `run()`.
pub(crate) fn log_git_failure(log: &Logger, e: &GitError) {
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

pub(crate) fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Upstream's `git.Fetch`, with the details of `flavour`: set-up, fetch, checkout, submodules.
pub fn clone(
    log: &Logger,
    o: &Options,
    flavour: Flavour,
    creds_dir: &Path,
) -> Result<Outcome, Failure> {
    let cfg = setup::process_settings();
    if home::home_dir().is_none() {
        log.warn(
            callers().home_dir,
            "Unexpected error getting the user home directory: $HOME is not set and the user has no passwd entry; continuing without user configuration",
        );
    }
    home::validate_git_auth(log, creds_dir, &o.url, flavour);
    let url = o.url.trim();
    let repo = setup::prepare_repository(log, o, flavour, &cfg, url)?;
    let session = Session {
        log,
        cfg,
        ssl_verify: o.ssl_verify,
        ssh_home: home::ssh_home(),
        // v0.37.2 logged nothing while git ran.
        progress_every: (flavour == Flavour::Catalog).then_some(PROGRESS_EVERY),
        flavour,
    };
    let checkout_param = fetch_revision(&session, o, &repo, url)?;
    let outcome = check_out(log, o, flavour, &repo, &checkout_param, url)?;
    if o.submodules {
        update_submodules(&session, o, &repo, url)?;
    }
    Ok(outcome)
}

/// `git fetch [--recurse-submodules=yes] [--depth=N] origin --update-head-ok --force <rev or
/// refspecs>`, with retries. Returns what to check out: `FETCH_HEAD`, or the revision when
/// refspecs were given.
fn fetch_revision(
    s: &Session<'_>,
    o: &Options,
    repo: &Repository,
    url: &str,
) -> Result<String, Failure> {
    let mut fetch_args = args(&["fetch"]);
    if o.submodules {
        fetch_args.push("--recurse-submodules=yes".into());
    }
    if o.depth > 0 {
        fetch_args.push(format!("--depth={}", o.depth));
    }
    let (specs, checkout_param): (Vec<String>, String) = if o.refspec.is_empty() {
        (vec![o.revision.clone()], "FETCH_HEAD".to_string())
    } else {
        (
            o.refspec.split(' ').map(str::to_string).collect(),
            o.revision.clone(),
        )
    };
    fetch_args.extend(args(&["origin", "--update-head-ok", "--force"]));
    fetch_args.extend(specs.iter().cloned());
    let req = FetchRequest {
        repo,
        url,
        specs: specs.clone(),
        depth: o.depth,
        args: fetch_args,
    };
    attempts(s.log, o, s.flavour, || {
        fetch::fetch(s, &req).inspect_err(|e| log_git_failure(s.log, e))
    })
    .map_err(|e| {
        s.flavour
            .git_failure(e)
            .context(&format!("failed to fetch {}", go_list(&specs)))
    })?;
    Ok(checkout_param)
}

/// `git checkout -f <checkout_param>`, then HEAD's commit and date, logged like upstream.
fn check_out(
    log: &Logger,
    o: &Options,
    flavour: Flavour,
    repo: &Repository,
    checkout_param: &str,
    url: &str,
) -> Result<Outcome, Failure> {
    let target = checkout::resolve_checkout(repo, checkout_param).map_err(|msg| {
        let e = GitError::fatal(
            args(&["show", "-q", "--pretty=format:%H", checkout_param]),
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
    checkout::checkout(repo, &target).map_err(|e| {
        let e = GitError {
            args: args(&["checkout", "-f", checkout_param]),
            output: e.output(),
            status: 128,
            transient: false,
        };
        log_git_failure(log, &e);
        flavour.git_failure(e)
    })?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        flavour.git_failure(GitError::fatal(
            args(&["show", "-q", "--pretty=format:%H", "HEAD"]),
            e.message(),
        ))
    })?;
    let commit = head.id().to_string();
    let refs = checkout::decorations(repo);
    log.info(
        callers().cloned,
        &redact_url(&format!(
            "Successfully cloned {url} @ {commit} ({refs}) in path {}",
            o.path
        )),
    );
    Ok(Outcome {
        committer_date: head.committer().when().seconds(),
        commit,
    })
}

/// `git submodule update --recursive --init --force [--depth=N] [<paths>]`, with retries.
fn update_submodules(
    s: &Session<'_>,
    o: &Options,
    repo: &Repository,
    url: &str,
) -> Result<(), Failure> {
    // v0.37.2's argv had no --force (and no paths: it had no -submodulePaths). The update
    // is the catalog's in both flavours, forced; in a fresh clone that changes nothing.
    let mut update_args = args(&["submodule", "update", "--recursive", "--init"]);
    if s.flavour == Flavour::Catalog {
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
    attempts(s.log, o, s.flavour, || {
        submodules::update(s, repo, url, &update).inspect_err(|e| log_git_failure(s.log, e))
    })
    .map_err(|e| s.flavour.git_failure(e))?;
    s.log.info(
        callers().submodules,
        &format!(
            "Successfully initialized and updated submodules in path {}",
            o.path
        ),
    );
    Ok(())
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

/// The whole program: flags, clone, results. Returns the exit code.
pub fn run(argv: &[String]) -> i32 {
    let program = argv.first().map(String::as_str).unwrap_or("git-init");
    let layout = stepkit_layout::Layout::from_env();
    let default_termination = layout.termination_file().to_string_lossy().into_owned();
    let opts = match flags::parse(program, argv.get(1..).unwrap_or(&[]), &default_termination) {
        Ok(o) => o,
        Err((e, usage)) => return e.report(&usage),
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
        results::entry("commit", &outcome.commit, &resource),
        results::entry("url", &url, &resource),
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
    let entries = [
        results::entry("commit", commit, resource),
        results::entry("url", url, resource),
    ];
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
