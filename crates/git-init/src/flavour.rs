//! Which upstream git-init a run imitates.
//!
//! One binary stands in for two: the catalog git-clone Task's git-init (the default) and the
//! one Tekton Pipelines v0.37.2's controller injects for a `git` PipelineResource input. They
//! differ in what the controller and later steps see. v0.37.2 keeps the fetch refspec that
//! `git remote add` writes, so the fetched branch is also `refs/remotes/origin/<branch>` (a
//! later `git checkout origin/main` works and `%D` says `HEAD, origin/main`); it has no retry
//! loop and no user-friendly error block; a failed git command reads as its exit status only;
//! its log lines come from other source lines; and it reports only `commit` and `url`, each
//! with `resourceName`, in the termination message (no result files).
//!
//! The rule ([`Flavour::detect`]): v0.37.2's when `TEKTON_RESOURCE_NAME` is non-empty and no
//! flag v0.37.2 lacked ([`CATALOG_ONLY_FLAGS`]) is on the command line. Only the controller's
//! PipelineResource steps set that variable (it is reserved for them; the catalog Task does not
//! set it, and no controller after v0.46 has PipelineResources), and a catalog-only flag can
//! only come from a caller that wants the catalog's behaviour, so it wins.

use crate::error::{Failure, GitError};
use crate::zap::{self, Callers};

/// The flags the catalog's git-init has and v0.37.2's did not.
pub const CATALOG_ONLY_FLAGS: [&str; 6] = [
    "retryInitial",
    "retryMax",
    "retryFactor",
    "retryMaxAttempts",
    "userFriendlyErrors",
    "submodulePaths",
];

/// The upstream binary imitated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `tektoncd-catalog/git-clone`'s `image/git-init`.
    Catalog,
    /// Tekton Pipelines v0.37.2's `cmd/git-init` (git PipelineResource).
    Pipelines037,
}

impl Flavour {
    /// `resource_name` is `$TEKTON_RESOURCE_NAME` (empty when unset); `catalog_flags_given`
    /// whether any of [`CATALOG_ONLY_FLAGS`] was on the command line.
    pub fn detect(resource_name: &str, catalog_flags_given: bool) -> Flavour {
        if !resource_name.is_empty() && !catalog_flags_given {
            Flavour::Pipelines037
        } else {
            Flavour::Catalog
        }
    }

    /// The `caller` values of its log lines.
    pub fn callers(self) -> &'static Callers {
        match self {
            Flavour::Catalog => &zap::CATALOG,
            Flavour::Pipelines037 => &zap::PIPELINES_037,
        }
    }

    /// A failed git command as an error: the catalog's `GitError` text (`exit status 128:
    /// fatal: …`), or v0.37.2's `exec` error (`exit status 128`; the output was only logged).
    pub fn git_failure(self, e: GitError) -> Failure {
        match self {
            Flavour::Catalog => Failure::from(e),
            Flavour::Pipelines037 => Failure {
                message: e.exit_text(),
                git: Some(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(Flavour::detect("", false), Flavour::Catalog);
        assert_eq!(Flavour::detect("repo", false), Flavour::Pipelines037);
        assert_eq!(Flavour::detect("repo", true), Flavour::Catalog);
        assert_eq!(Flavour::detect("", true), Flavour::Catalog);
    }

    #[test]
    fn failures() {
        let e = GitError::fatal(vec!["fetch".into()], "couldn't find remote ref x");
        assert_eq!(
            Flavour::Catalog.git_failure(e.clone()).message,
            "exit status 128: fatal: couldn't find remote ref x"
        );
        let f = Flavour::Pipelines037.git_failure(e.clone());
        assert_eq!(f.message, "exit status 128");
        assert_eq!(f.git, Some(e));
    }
}
