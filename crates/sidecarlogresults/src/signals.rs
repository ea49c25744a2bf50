//! `-kubernetes-sidecar-mode`: after the output, stay up until SIGTERM or SIGINT.
//!
//! Both signals are blocked from the start, so one that arrives while the steps still run is
//! held, not lost and not fatal: the results are printed first and the pending signal then
//! ends the wait at once (exit 0), as upstream's buffered signal channel does.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

fn set() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

/// Blocks SIGTERM and SIGINT (call before any thread starts, so every thread inherits it).
pub fn hold() -> Result<(), String> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set()), None)
        .map_err(|e| format!("blocking SIGTERM and SIGINT: {e}"))
}

/// Returns once SIGTERM or SIGINT is pending (immediately if one already is).
pub fn wait() -> Result<(), String> {
    set()
        .wait()
        .map(|_| ())
        .map_err(|e| format!("waiting for SIGTERM: {e}"))
}
