//! `nop`: the image the Tekton controller swaps into a sidecar container to stop it, and the
//! idle process of the affinity-assistant StatefulSet.
//!
//! With any arguments it logs `Exiting...` and exits 0. When its first argument is
//! `tekton_run_indefinitely` it logs `Waiting indefinitely...`, waits for SIGINT or SIGTERM,
//! logs `received signal: <name>` (Go's signal names) and then exits 0. Output lines match
//! upstream's Go `log` format so log scrapers see the same text.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};

/// The argument the affinity assistant passes to keep the container alive.
const RUN_INDEFINITELY: &str = "tekton_run_indefinitely";

fn main() {
    let first = std::env::args_os().nth(1);
    if first.as_deref() == Some(std::ffi::OsStr::new(RUN_INDEFINITELY)) {
        // Block before announcing, so a signal sent right after the line is seen is queued
        // (as PID 1 an unhandled, unblocked SIGTERM would be dropped by the kernel).
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        if let Err(err) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
            golog::fatal(&format!("blocking SIGINT/SIGTERM: {err}"));
        }
        golog::log("Waiting indefinitely...");
        match set.wait() {
            Ok(sig) => golog::log(&format!("received signal: {}", go_signal_name(sig))),
            Err(err) => golog::fatal(&format!("waiting for a signal: {err}")),
        }
    }
    golog::log("Exiting...");
    std::process::exit(0);
}

/// The text Go's `syscall.Signal.String()` prints for the signals nop waits for.
fn go_signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::SIGINT => "interrupt",
        Signal::SIGTERM => "terminated",
        other => other.as_str(),
    }
}
