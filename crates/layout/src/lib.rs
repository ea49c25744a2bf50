//! The fixed paths of a Tekton step pod, in one place.
//!
//! The controller mounts everything the helpers touch under `/tekton` and `/workspace`. Every
//! hard-coded path in stepkit comes from a [`Layout`], so tests (which run without root and
//! without a real `/tekton`) can relocate the whole tree into a temporary directory by setting
//! `STEPKIT_TEKTON_DIR` and `STEPKIT_WORKSPACE_DIR`. In a real pod neither is set and the
//! defaults are upstream's paths.

use std::path::{Path, PathBuf};

/// Environment variable that relocates `/tekton` (tests only).
pub const TEKTON_DIR_ENV: &str = "STEPKIT_TEKTON_DIR";
/// Environment variable that relocates `/workspace` (tests only).
pub const WORKSPACE_DIR_ENV: &str = "STEPKIT_WORKSPACE_DIR";

/// Root of the `/tekton` tree and of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    tekton: PathBuf,
    workspace: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            tekton: PathBuf::from("/tekton"),
            workspace: PathBuf::from("/workspace"),
        }
    }
}

impl Layout {
    /// The layout of a real pod, unless the relocation variables are set.
    pub fn from_env() -> Self {
        let mut layout = Layout::default();
        if let Some(dir) = std::env::var_os(TEKTON_DIR_ENV).filter(|v| !v.is_empty()) {
            layout.tekton = PathBuf::from(dir);
        }
        if let Some(dir) = std::env::var_os(WORKSPACE_DIR_ENV).filter(|v| !v.is_empty()) {
            layout.workspace = PathBuf::from(dir);
        }
        layout
    }

    /// A layout rooted at `tekton` and `workspace` (for tests and tools).
    pub fn new(tekton: impl Into<PathBuf>, workspace: impl Into<PathBuf>) -> Self {
        Layout {
            tekton: tekton.into(),
            workspace: workspace.into(),
        }
    }

    /// `/tekton`
    pub fn tekton(&self) -> &Path {
        &self.tekton
    }
    /// `/workspace`
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }
    /// `/tekton/bin`
    pub fn bin_dir(&self) -> PathBuf {
        self.tekton.join("bin")
    }
    /// `/tekton/run/<i>`
    pub fn run_dir(&self, step: usize) -> PathBuf {
        self.tekton.join("run").join(step.to_string())
    }
    /// `/tekton/run/<i>/status`: a step's metadata directory.
    pub fn step_status_dir(&self, step: usize) -> PathBuf {
        self.run_dir(step).join("status")
    }
    /// `/tekton/steps`: symlinks from step names and indices to their status dirs.
    pub fn steps_dir(&self) -> PathBuf {
        self.tekton.join("steps")
    }
    /// `/tekton/steps/step-<name>`: where `$(steps.<name>…)` references are read from.
    pub fn step_dir(&self, step_name: &str) -> PathBuf {
        self.steps_dir().join(format!("step-{step_name}"))
    }
    /// `/tekton/results`: task results.
    pub fn results_dir(&self) -> PathBuf {
        self.tekton.join("results")
    }
    /// `/tekton/artifacts`: task-level artifacts.
    pub fn artifacts_dir(&self) -> PathBuf {
        self.tekton.join("artifacts")
    }
    /// `/tekton/scripts`: scripts placed by the `place-scripts` init container.
    pub fn scripts_dir(&self) -> PathBuf {
        self.tekton.join("scripts")
    }
    /// `/tekton/downward`: the Downward-API volume (`ready`, `cancel`).
    pub fn downward_dir(&self) -> PathBuf {
        self.tekton.join("downward")
    }
    /// `/tekton/downward/cancel`
    pub fn cancel_file(&self) -> PathBuf {
        self.downward_dir().join("cancel")
    }
    /// `/tekton/downward/ready`
    pub fn ready_file(&self) -> PathBuf {
        self.downward_dir().join("ready")
    }
    /// `/tekton/termination`: default termination-message path.
    pub fn termination_file(&self) -> PathBuf {
        self.tekton.join("termination")
    }
    /// `/tekton/creds`: where credential files are written.
    pub fn creds_dir(&self) -> PathBuf {
        self.tekton.join("creds")
    }
    /// `/tekton/creds-secrets`: where the controller mounts secret volumes.
    pub fn creds_secrets_dir(&self) -> PathBuf {
        self.tekton.join("creds-secrets")
    }
    /// `/tekton/home`
    pub fn home_dir(&self) -> PathBuf {
        self.tekton.join("home")
    }
    /// `/tekton/debug/scripts`
    pub fn debug_scripts_dir(&self) -> PathBuf {
        self.tekton.join("debug").join("scripts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_match_upstream() {
        let l = Layout::default();
        assert_eq!(l.step_status_dir(2), Path::new("/tekton/run/2/status"));
        assert_eq!(l.cancel_file(), Path::new("/tekton/downward/cancel"));
        assert_eq!(l.step_dir("build"), Path::new("/tekton/steps/step-build"));
        assert_eq!(l.creds_secrets_dir(), Path::new("/tekton/creds-secrets"));
        assert_eq!(l.workspace(), Path::new("/workspace"));
    }

    #[test]
    fn relocates() {
        let l = Layout::new("/tmp/x/tekton", "/tmp/x/ws");
        assert_eq!(l.results_dir(), Path::new("/tmp/x/tekton/results"));
    }
}
