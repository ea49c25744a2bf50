//! `entrypoint`: Tekton's step wrapper (see the library docs and docs/entrypoint.md).

use std::cell::RefCell;

use credentials::Credentials;
use entrypoint::args::{self, Config};
use entrypoint::step::{self, ProcessEngine, Step};
use entrypoint::{debug, exit, liveness, pid1, platform, subcommands, substitute, when};
use stepkit_layout::Layout;

/// Message of upstream's `disable_spire` build when `-enable_spire` is given.
const SPIRE_DISABLED: &str = "Error: SPIRE is disabled in this build, but enableSpire was set to true. Please recompile with SPIRE support.";

/// How long a freshly created, still empty `.breakpointexit` may take to get its content.
const BREAKPOINT_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

fn main() {
    let argv = goflag::utf8_argv_or_exit();
    let program = argv.first().cloned().unwrap_or_else(|| "entrypoint".into());
    let layout = Layout::from_env();

    // docs/contract.md §3.5 step 1: split, register, parse (exit 2 / 0 on -h).
    let (flag_args, command_args) = args::split(argv.get(1..).unwrap_or_default());
    let creds = RefCell::new(Credentials::new(layout.clone()));
    let (cfg, positional) = {
        let mut fs = goflag::FlagSet::new(&program);
        args::register(&mut fs, &layout);
        Credentials::register_flags(&creds, &mut fs);
        let parsed = fs.parse_or_exit(&flag_args);
        (Config::from_parsed(&parsed), parsed.args().to_vec())
    };

    // docs/contract.md §3.5 step 2: subcommands.
    if let Some(code) = subcommands::dispatch(&positional, &layout) {
        std::process::exit(code);
    }

    // From here on this process is the step: route signals through the signalfd.
    let signals = pid1::Signals::init();
    // After the signal mask is set (the writer thread inherits it): a stderr nobody reads can
    // no longer hold up the lifecycle (see `golog::sink`).
    golog::sink::install();
    let signals = match signals {
        Ok(s) => Some(s),
        Err(e) => {
            golog::log(&format!("warning: signal routing unavailable: {e}"));
            None
        }
    };
    // docs/contract.md §3.5 steps 4–6 are decided first (no side effects) and reported after
    // step 3, in upstream's order: without a configuration error the liveness lock is taken
    // before the credential copies, so a kill there no longer leaves the successor waiting;
    // with one there is no lock, and the tree is exactly upstream's.
    let configured = configure(&cfg, command_args);

    // Announce liveness to the next step (see `liveness`).
    let _liveness = if cfg.post_file.is_empty() || configured.is_err() {
        None
    } else {
        liveness::hold(&cfg.post_file)
            .ok()
            .inspect(|_| liveness::remove_at_exit(&cfg.post_file))
    };

    // docs/contract.md §3.5 step 3: credentials to /tekton/creds (errors are logged inside).
    creds.borrow().write();

    let (command, when_exprs) = configured.unwrap_or_else(|e| golog::fatal(&e));

    // docs/contract.md §3.5 step 8: credentials to $HOME; their env additions never override the
    // step's own env.
    let mut env: substitute::Env = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (k, v) in credentials::copy_to_home(&layout) {
        if !env.iter().any(|(name, _)| *name == k) {
            env.push((k, v));
        }
    }

    // Load the time zone now: the first local-time conversion reads /etc/localtime, and the
    // first one in the lifecycle (StartedAt) sits between the wait and the command's start.
    let _ = golog::LocalTime::now();

    // docs/contract.md §3.5 step 9: the lifecycle, then the exit mapping.
    let mut engine = ProcessEngine {
        signals: signals.as_ref(),
        stdout_path: cfg.stdout_path.clone(),
        stderr_path: cfg.stderr_path.clone(),
        cancel_file: layout.cancel_file(),
    };
    let mut the_step = Step {
        cfg: cfg.clone(),
        layout,
        command,
        when: when_exprs,
        env,
    };
    let result = step::go(&mut the_step, &mut engine);
    let plan = exit::plan(&result, &cfg.on_error);
    if plan.breakpoint_check && cfg.breakpoint_on_failure {
        breakpoint_on_failure(&cfg, &mut engine);
    }
    if let Some(msg) = &plan.log {
        golog::log(msg);
    }
    golog::exit(plan.code);
}

/// docs/contract.md §3.5 steps 4–6: the command, the when expressions and the SPIRE check; the
/// first error is upstream's fatal message.
fn configure(
    cfg: &Config,
    command_args: Vec<String>,
) -> Result<(Vec<String>, Vec<when::WhenExpression>), String> {
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

/// Upstream's `CheckForBreakpointOnFailure`: wait for the user's decision, exit with it.
fn breakpoint_on_failure(cfg: &Config, engine: &mut ProcessEngine<'_>) -> ! {
    use entrypoint::step::Engine;
    golog::log(debug::ON_FAILURE_MESSAGE);
    let file = format!("{}{}", cfg.post_file, debug::BREAKPOINT_EXIT_SUFFIX);
    if let Err(e) = engine.wait(&file, false, false, false) {
        let text = match e {
            entrypoint::wait::WaitError::Failed(m) => m,
            _ => "error file present, bail and skip the step".to_string(),
        };
        golog::log(&format!("error occurred while waiting for {file} : {text}"));
    }
    entrypoint::wait::Waiter::new(engine.signals).settle_content(&file, BREAKPOINT_SETTLE);
    let code = debug::breakpoint_exit_code(&file).unwrap_or_else(|e| {
        golog::log(&format!(
            "error occurred while reading breakpoint exit code : {e}"
        ));
        0
    });
    // The user ended the debug session: nothing for a successor to detect.
    liveness::remove_now();
    golog::exit(code)
}
