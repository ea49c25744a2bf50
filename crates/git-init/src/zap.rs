//! git-init's zap logging: upstream's `caller` values and the stack-trace stand-in; the line
//! format itself is `golog::zap`.
//!
//! The two upstream binaries git-init imitates (see [`crate::flavour`]) log the same messages
//! from different source lines, and log scrapers key on `caller`. A process imitates one of
//! them for its whole life, so [`run`](crate::run) picks the table once, before the first line,
//! with [`use_callers`]; every module logs with [`callers`]. Until a table is picked (unit
//! tests) it is the catalog's.

use std::sync::OnceLock;

pub use golog::zap::{Level, Logger};

/// Text standing in for Go's stack trace (which cannot be reproduced).
pub const STACKTRACE: &str = "stepkit git-init (no Go stack trace)";

/// Where each message comes from in upstream's source (zap's short caller).
#[derive(Debug, PartialEq, Eq)]
pub struct Callers {
    pub run_git: &'static str,
    pub home_dir: &'static str,
    pub ssh_command: &'static str,
    pub ssl_verify: &'static str,
    pub cloned: &'static str,
    pub submodules: &'static str,
    pub ssh_not_ssh_url: &'static str,
    pub ssh_no_creds: &'static str,
    pub sparse_open: &'static str,
    pub sparse_write: &'static str,
    pub retry: &'static str,
    /// Not in upstream: fetch progress and other stepkit-only notices (a line of the fetch).
    pub progress: &'static str,
    /// Not in upstream: a `$HOME` config file refused unread (FIFO, device, oversized).
    pub config_refused: &'static str,
    pub main_friendly: &'static str,
    pub main_fetch: &'static str,
    pub main_revision: &'static str,
    pub main_write: &'static str,
}

/// The catalog git-clone's git-init (`image/git-init`).
pub const CATALOG: Callers = Callers {
    run_git: "git/git.go:75",
    home_dir: "git/git.go:108",
    ssh_command: "git/git.go:174",
    ssl_verify: "git/git.go:179",
    cloned: "git/git.go:242",
    submodules: "git/git.go:296",
    ssh_not_ssh_url: "git/git.go:350",
    ssh_no_creds: "git/git.go:352",
    sparse_open: "git/git.go:379",
    sparse_write: "git/git.go:385",
    retry: "git/git.go:413",
    progress: "git/git.go:210",
    config_refused: "git/git.go:108",
    main_friendly: "git-init/main.go:80",
    main_fetch: "git-init/main.go:85",
    main_revision: "git-init/main.go:90",
    main_write: "git-init/main.go:104",
};

/// Pipelines v0.37.2's git-init (`cmd/git-init`, `pkg/git`). It has no retry loop and no
/// user-friendly block; those entries are never logged in this flavour.
pub const PIPELINES_037: Callers = Callers {
    run_git: "git/git.go:55",
    home_dir: "git/git.go:80",
    ssh_command: "git/git.go:122",
    ssl_verify: "git/git.go:127",
    cloned: "git/git.go:178",
    submodules: "git/git.go:217",
    ssh_not_ssh_url: "git/git.go:271",
    ssh_no_creds: "git/git.go:273",
    sparse_open: "git/git.go:297",
    sparse_write: "git/git.go:303",
    retry: "git/git.go:158",
    progress: "git/git.go:158",
    config_refused: "git/git.go:80",
    main_friendly: "git-init/main.go:54",
    main_fetch: "git-init/main.go:54",
    main_revision: "git-init/main.go:59",
    main_write: "git-init/main.go:76",
};

static ACTIVE: OnceLock<&'static Callers> = OnceLock::new();

/// Chooses the process's table; only the first call counts.
pub fn use_callers(table: &'static Callers) {
    let _ = ACTIVE.set(table);
}

/// The table in use.
pub fn callers() -> &'static Callers {
    ACTIVE.get().copied().unwrap_or(&CATALOG)
}
