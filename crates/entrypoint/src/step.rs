//! One step's lifecycle: upstream's `Entrypointer.Go()` (docs/contract.md §3.6), in its exact
//! order.
//!
//! Waiting and running go through the [`Engine`] trait so the orchestration (post files,
//! `exitCode`, termination entries, result reading) is unit-tested without processes.

use std::path::Path;
use std::time::{Duration, Instant};

use gocompat::fs as gofs;
use stepkit_layout::Layout;
use termination::{INTERNAL_RESULT, RunResult, WriteError};

use crate::args::{Config, ON_ERROR_CONTINUE};
use crate::debug;
use crate::pid1::{ChildStatus, Signals};
use crate::post;
use crate::reported;
use crate::results;
use crate::run::{self, RunError, RunOptions};
use crate::substitute::{self, Env};
use crate::wait::{WaitError, WaitRules, Waiter};
use crate::when::{self, WhenExpression};

/// How [`execute`] ended unsuccessfully (upstream's error types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// `.beforestepexit.err`: the user chose fail-continue before the step.
    DebugBeforeStep,
    /// The previous step failed (or its entrypoint died): `SkipError`.
    Skip,
    /// `context canceled`.
    Cancelled,
    /// `context deadline exceeded`.
    DeadlineExceeded,
    /// The child exited non-zero or died from a signal (`*exec.ExitError`).
    ChildExit(ChildStatus),
    /// The termination message would exceed 4096 bytes.
    TooLarge,
    /// Anything else, with Go's error text.
    Other(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::DebugBeforeStep => f.write_str(debug::BEFORE_STEP_ERROR),
            StepError::Skip => f.write_str("error file present, bail and skip the step"),
            StepError::Cancelled => f.write_str("context canceled"),
            StepError::DeadlineExceeded => f.write_str("context deadline exceeded"),
            StepError::ChildExit(st) => f.write_str(&st.describe()),
            StepError::TooLarge => f.write_str(termination::TOO_LARGE_MESSAGE),
            StepError::Other(m) => f.write_str(m),
        }
    }
}

/// Waiting and running: the side effects that need time and processes.
pub trait Engine {
    fn wait(&mut self, file: &str, rules: WaitRules) -> Result<(), WaitError>;
    fn run_command(
        &mut self,
        command: &[String],
        env: &Env,
        deadline: Option<Instant>,
    ) -> Result<(), RunError>;
}

/// The real engine: inotify waits and child processes.
pub struct ProcessEngine<'a> {
    pub signals: Option<&'a Signals>,
    pub stdout_path: String,
    pub stderr_path: String,
    pub cancel_file: std::path::PathBuf,
}

impl Engine for ProcessEngine<'_> {
    fn wait(&mut self, file: &str, rules: WaitRules) -> Result<(), WaitError> {
        Waiter::new(self.signals).wait(file, rules)
    }

    fn run_command(
        &mut self,
        command: &[String],
        env: &Env,
        deadline: Option<Instant>,
    ) -> Result<(), RunError> {
        let opts = RunOptions {
            stdout_path: &self.stdout_path,
            stderr_path: &self.stderr_path,
            hermetic: run::hermetic_requested(env),
            deadline,
            cancel_file: &self.cancel_file,
            signals: self.signals,
        };
        run::run_command(command, env, &opts)
    }
}

/// Everything the lifecycle needs.
pub struct Step {
    pub cfg: Config,
    pub layout: Layout,
    pub command: Vec<String>,
    pub when: Vec<WhenExpression>,
    pub env: Env,
}

fn internal(key: &str, value: impl Into<Vec<u8>>) -> RunResult {
    RunResult::new(key, value, INTERNAL_RESULT)
}

fn started_at() -> RunResult {
    internal("StartedAt", golog::LocalTime::now().rfc3339_millis())
}

/// Go's slog default-handler line for an error attribute.
pub fn slog_error(msg: &str, err: &str) {
    golog::slog("ERROR", &format!("{msg} error={}", golog::slog_value(err)));
}

/// Upstream's `Entrypointer.Go()`: runs the lifecycle, then appends the collected entries to
/// the termination message (always, like upstream's deferred write; a failure there is fatal).
pub fn execute(step: &mut Step, engine: &mut dyn Engine) -> Result<(), StepError> {
    let mut output = Vec::new();
    let result = wait_run_and_report(step, engine, &mut output);
    if let Err(e) = termination::write_message(
        Path::new(&step.cfg.termination_path),
        &output,
        step.cfg.compress_termination_message,
    ) {
        golog::fatal(&format!("Error while writing message: {e}"));
    }
    result
}

/// `Go()` without its deferred termination write: entries for it are pushed to `output`.
fn wait_run_and_report(
    step: &mut Step,
    engine: &mut dyn Engine,
    output: &mut Vec<RunResult>,
) -> Result<(), StepError> {
    let cfg = step.cfg.clone();
    let metadata_dir = cfg.step_metadata_dir.as_str();
    for sub in ["results", "artifacts"] {
        gofs::mkdir_all(&gofs::join(&[metadata_dir, sub]), 0o777).map_err(StepError::Other)?;
    }

    let predecessor = WaitRules {
        expect_content: cfg.wait_file_content,
        breakpoint_on_failure: cfg.breakpoint_on_failure,
        watch_predecessor: true,
    };
    for file in &cfg.wait_files {
        if let Err(e) = engine.wait(file, predecessor) {
            if !cfg.breakpoint_on_failure {
                post::write_post_file(&cfg.post_file, true);
            }
            output.push(started_at());
            return Err(match e {
                WaitError::Skip => {
                    output.push(internal("Reason", "Skipped"));
                    StepError::Skip
                }
                WaitError::PredecessorGone => {
                    golog::log(&format!(
                        "The previous step's entrypoint exited without writing {file} or {file}.err"
                    ));
                    output.push(internal("Reason", "Skipped"));
                    StepError::Skip
                }
                WaitError::Failed(m) => StepError::Other(m),
            });
        }
    }

    let mut err: Option<StepError> = None;
    if cfg.debug_before_step {
        golog::log(debug::BEFORE_STEP_MESSAGE);
        let file = format!("{}{}", cfg.post_file, debug::BEFORE_STEP_SUFFIX);
        if engine.wait(&file, WaitRules::default()).is_err() {
            golog::log(&format!(
                "error occurred while waiting for {file} : {}",
                debug::BEFORE_STEP_ERROR
            ));
            err = Some(StepError::DebugBeforeStep);
        }
    }

    output.push(started_at());

    if cfg.timeout < 0 {
        err = Some(StepError::Other("negative timeout specified".to_string()));
    }

    if err.is_none() {
        if let Err(e) = substitute::apply_step_results(
            &step.layout,
            &mut step.env,
            &mut step.when,
            &mut step.command,
        ) {
            slog_error("Error while substituting step results:", &e);
        }
        if let Err(e) = substitute::apply_artifacts(&step.layout, &mut step.env, &mut step.command)
        {
            slog_error("Error while substituting step artifacts:", &e);
        }
        let deadline = (cfg.timeout > 0)
            .then(|| Instant::now().checked_add(Duration::from_nanos(cfg.timeout as u64)))
            .flatten();
        match when::allow_exec(&step.when) {
            Err(e) => err = Some(StepError::Other(e)),
            Ok(true) => {
                if let Err(e) = engine.run_command(&step.command, &step.env, deadline) {
                    err = Some(match e {
                        RunError::DeadlineExceeded => StepError::DeadlineExceeded,
                        RunError::Cancelled => StepError::Cancelled,
                        RunError::Exit(st) => StepError::ChildExit(st),
                        RunError::Other(m) => StepError::Other(m),
                    });
                }
            }
            Ok(false) => {
                golog::slog(
                    "INFO",
                    "Step was skipped due to when expressions were evaluated to false.",
                );
                output.push(internal("Reason", "Skipped"));
                post::write_outcome(&cfg.post_file, false, metadata_dir, Some("0"));
                return Ok(());
            }
        }
    }

    // Post-run switch (rows a–g of docs/contract.md §3.6).
    match &err {
        Some(StepError::DebugBeforeStep) => post::write_post_file(&cfg.post_file, true),
        Some(StepError::Cancelled) => {
            golog::slog("INFO", "Step was canceling");
            output.push(internal("Reason", "Cancelled"));
            post::write_outcome(&cfg.post_file, true, metadata_dir, Some("killed"));
        }
        Some(StepError::DeadlineExceeded) => {
            post::write_post_file(&cfg.post_file, true);
            output.push(internal("Reason", "TimeoutExceeded"));
        }
        Some(_) if cfg.breakpoint_on_failure => golog::slog("INFO", "Skipping writing to PostFile"),
        Some(StepError::ChildExit(st)) if cfg.on_error == ON_ERROR_CONTINUE => {
            let code = st.code().to_string();
            output.push(internal("ExitCode", code.clone()));
            post::write_outcome(&cfg.post_file, false, metadata_dir, Some(&code));
        }
        None => post::write_outcome(&cfg.post_file, false, metadata_dir, Some("0")),
        Some(_) => post::write_post_file(&cfg.post_file, true),
    }

    let in_message = cfg.results_in_message();
    if cfg.results.first().is_some_and(|r| !r.is_empty()) {
        let dir = step.layout.results_dir().to_string_lossy().into_owned();
        // Only what this step created or changed (reported.rs); the record is kept once the
        // message holds the values.
        let records = in_message
            .then(|| reported::paths(&cfg.post_file))
            .flatten();
        let mut record = records
            .as_ref()
            .and_then(|(_, previous)| reported::load(previous.as_deref()))
            .unwrap_or_default();
        let filter = records.is_some().then_some(&mut record);
        collect_results(
            &cfg,
            &dir,
            &cfg.results,
            termination::TASK_RUN_RESULT,
            in_message,
            filter,
        )?;
        if let Some((own, _)) = &records
            && let Err(e) = reported::save(own, &record)
        {
            // The next step then reports all its results, as upstream does.
            golog::slog("WARN", &format!("Not recording reported results: {e}"));
        }
    }
    if cfg.step_results.first().is_some_and(|r| !r.is_empty()) {
        let dir = gofs::join(&[metadata_dir, "results"]);
        collect_results(
            &cfg,
            &dir,
            &cfg.step_results,
            termination::STEP_RESULT,
            in_message,
            None,
        )?;
    }
    if in_message {
        let step_path = results::step_artifacts_path(metadata_dir);
        match results::read_artifact(&step_path, termination::STEP_ARTIFACTS_RESULT) {
            Ok(entry) => output.extend(entry),
            Err(e) => golog::fatal(&format!("Error while handling step artifacts: {e}")),
        }
        let task_dir = step.layout.artifacts_dir().to_string_lossy().into_owned();
        let task_path = gofs::join(&[&task_dir, "provenance.json"]);
        match results::read_artifact(&task_path, termination::TASK_RUN_ARTIFACTS_RESULT) {
            Ok(entry) => output.extend(entry),
            Err(e) => golog::fatal(&format!("Error while handling task artifacts: {e}")),
        }
    }

    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads results and appends them to the termination message right away (one of the up to
/// three appends of docs/contract.md §2.3).
fn collect_results(
    cfg: &Config,
    dir: &str,
    names: &[String],
    result_type: u8,
    in_message: bool,
    only_changed: Option<&mut reported::Record>,
) -> Result<(), StepError> {
    let fail = |e: StepError| {
        slog_error("Error while substituting step artifacts:", &e.to_string());
        e
    };
    let mut entries =
        results::read_results(dir, names, result_type).map_err(|m| fail(StepError::Other(m)))?;
    if let Some(record) = only_changed {
        entries = reported::changed(entries, record);
    }
    if in_message && !entries.is_empty() {
        termination::write_message(
            Path::new(&cfg.termination_path),
            &entries,
            cfg.compress_termination_message,
        )
        .map_err(|e| {
            fail(match e {
                WriteError::TooLarge => StepError::TooLarge,
                other => StepError::Other(other.to_string()),
            })
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
