//! git-init's zap logging: upstream's `caller` values and the stack-trace stand-in; the line
//! format itself is `golog::zap`.

pub use golog::zap::{Level, Logger};

/// Text standing in for Go's stack trace (which cannot be reproduced).
pub const STACKTRACE: &str = "stepkit git-init (no Go stack trace)";

/// Where a message comes from in upstream's source (zap's short caller).
pub mod caller {
    pub const RUN_GIT: &str = "git/git.go:75";
    pub const HOME_DIR: &str = "git/git.go:108";
    pub const SSH_COMMAND: &str = "git/git.go:174";
    pub const SSL_VERIFY: &str = "git/git.go:179";
    pub const CLONED: &str = "git/git.go:242";
    pub const SUBMODULES: &str = "git/git.go:296";
    pub const SSH_NOT_SSH_URL: &str = "git/git.go:350";
    pub const SSH_NO_CREDS: &str = "git/git.go:352";
    pub const SPARSE_OPEN: &str = "git/git.go:379";
    pub const SPARSE_WRITE: &str = "git/git.go:385";
    pub const RETRY: &str = "git/git.go:413";
    /// Not in upstream: fetch progress and other stepkit-only notices.
    pub const PROGRESS: &str = "git/git.go:210";
    /// Not in upstream: a `$HOME` config file refused unread (FIFO, device, oversized).
    pub const CONFIG_REFUSED: &str = "git/git.go:108";
    pub const MAIN_FRIENDLY: &str = "git-init/main.go:80";
    pub const MAIN_FETCH: &str = "git-init/main.go:85";
    pub const MAIN_REVISION: &str = "git-init/main.go:90";
    pub const MAIN_WRITE: &str = "git-init/main.go:104";
}
