//! The step's process from parsed flags to exit (upstream's `main` after flag parsing), as a
//! sequence of phases in [`run`]: each phase is one function below, in the order upstream
//! performs its side effects.

use credentials::Credentials;
use stepkit_layout::Layout;

use crate::args::Config;
use crate::liveness::{self, HeldLock};
use crate::pid1::Signals;
use crate::step::{self, ProcessEngine, Step, StepError};
use crate::substitute::Env;
use crate::when::{self, WhenExpression};
use crate::{debug, exit, platform};

/// Message of upstream's `disable_spire` build when `-enable_spire` is given.
const SPIRE_DISABLED: &str = "Error: SPIRE is disabled in this build, but enableSpire was set to true. Please recompile with SPIRE support.";

/// Runs the step and exits with its code.
pub fn run(cfg: Config, command_args: Vec<String>, creds: Credentials, layout: Layout) -> ! {
    let signals = route_signals();
    // docs/contract.md §3.5 steps 4–6 are decided first (no side effects) and reported after step 3, in upstream's
    // order: without a configuration error the liveness lock is taken before the credential
    // copies, so a kill there no longer leaves the successor waiting; with one there is no
    // lock, and the tree is exactly upstream's.
    let configured = configure(&cfg, command_args);
    let _liveness = announce_liveness(&cfg, configured.is_ok());
    // docs/contract.md §3.5 step 3: credentials to /tekton/creds (errors are logged inside).
    creds.write();
    let (command, when_exprs) = configured.unwrap_or_else(|e| golog::fatal(&e));
    let env = prepare_env(&layout);
    load_time_zone();

    // docs/contract.md §3.5 step 9: the lifecycle, then the exit mapping.
    let mut engine = ProcessEngine {
        signals: signals.as_ref(),
        stdout_path: cfg.stdout_path.clone(),
        stderr_path: cfg.stderr_path.clone(),
        cancel_file: layout.cancel_file(),
    };
    let the_step = &mut Step {
        cfg: cfg.clone(),
        layout,
        command,
        when: when_exprs,
        env,
    };
    let result = step::execute(the_step, &mut engine);
    finish(&cfg, &result, signals.as_ref())
}

/// From here on this process is the step: signals go through the signalfd (see [`crate::pid1`]).
fn route_signals() -> Option<Signals> {
    let signals = Signals::init();
    // After the signal mask is set (the writer thread inherits it): a stderr nobody reads can
    // no longer hold up the lifecycle (see `golog::sink`).
    golog::sink::install();
    signals
        .inspect_err(|e| golog::log(&format!("warning: signal routing unavailable: {e}")))
        .ok()
}

/// docs/contract.md §3.5 steps 4–6: the command, the when expressions and the SPIRE check; the first error is
/// upstream's fatal message.
fn configure(
    cfg: &Config,
    command_args: Vec<String>,
) -> Result<(Vec<String>, Vec<WhenExpression>), String> {
    // docs/contract.md §3.5 step 4: the command.
    let mut command = if cfg.entrypoint.is_empty() {
        let env = std::env::var("TEKTON_PLATFORM_COMMANDS").ok();
        platform::select_command(env.as_deref(), &platform::current())?
    } else {
        vec![cfg.entrypoint.clone()]
    };
    command.extend(command_args);

    // docs/contract.md §3.5 step 5: when expressions.
    let when_exprs = if cfg.when_expressions.is_empty() {
        Vec::new()
    } else {
        when::parse(&cfg.when_expressions)?
    };

    // docs/contract.md §3.5 step 6: SPIRE is not built in.
    if cfg.enable_spire {
        return Err(SPIRE_DISABLED.to_string());
    }
    Ok((command, when_exprs))
}

/// Tells the next step this entrypoint is alive (see [`crate::liveness`]); no lock when the
/// configuration failed, so the tree is upstream's.
fn announce_liveness(cfg: &Config, configured: bool) -> Option<HeldLock> {
    if cfg.post_file.is_empty() || !configured {
        return None;
    }
    liveness::hold(&cfg.post_file).ok().inspect(|held| {
        held.release_when_posted();
        liveness::remove_at_exit(&cfg.post_file);
    })
}

/// docs/contract.md §3.5 step 8: the step's environment, with the credentials copied to $HOME; their env additions
/// never override the step's own env.
fn prepare_env(layout: &Layout) -> Env {
    let mut env: Env = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (k, v) in credentials::copy_to_home(layout) {
        if !env.iter().any(|(name, _)| *name == k) {
            env.push((k, v));
        }
    }
    env
}

/// Loads the time zone now: the first local-time conversion reads /etc/localtime, and the
/// first one in the lifecycle (StartedAt) sits between the wait and the command's start.
fn load_time_zone() {
    let _ = golog::LocalTime::now();
}

/// docs/contract.md §3.11: the exit code for the step's outcome; a failure may first stop at the on-failure
/// breakpoint, which exits with the user's decision.
fn finish(cfg: &Config, result: &Result<(), StepError>, signals: Option<&Signals>) -> ! {
    let decision = exit::decide(result, &cfg.on_error);
    if decision.breakpoint_check && cfg.breakpoint_on_failure {
        debug::wait_on_failure(&cfg.post_file, signals);
    }
    if let Some(msg) = &decision.log {
        golog::log(msg);
    }
    golog::exit(decision.code)
}
