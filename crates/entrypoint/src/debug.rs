//! Debug breakpoints (docs/contract.md §3.15): waiting before the step, and after a failure.
//!
//! The texts users grep for (the "use cmd:" instructions) are upstream's, verbatim.

use std::time::Duration;

use gocompat::files;

use crate::pid1::Signals;
use crate::wait::{WaitError, WaitRules, Waiter};

/// `<post_file>.breakpointexit`: written by `debug-continue` / `debug-fail-continue`.
pub const BREAKPOINT_EXIT_SUFFIX: &str = ".breakpointexit";
/// `<post_file>.beforestepexit`: written by `debug-beforestep-continue`.
pub const BEFORE_STEP_SUFFIX: &str = ".beforestepexit";

pub const BEFORE_STEP_MESSAGE: &str =
    "debug before step breakpoint has taken effect, waiting for user's decision:
1) continue, use cmd: /tekton/debug/scripts/debug-beforestep-continue
2) fail-continue, use cmd: /tekton/debug/scripts/debug-beforestep-fail-continue";

pub const ON_FAILURE_MESSAGE: &str =
    "debug onFailure breakpoint has taken effect, waiting for user's decision:
1) continue, use cmd: /tekton/debug/scripts/debug-continue
2) fail-continue, use cmd: /tekton/debug/scripts/debug-fail-continue";

/// The error text of a before-step "fail-continue".
pub const BEFORE_STEP_ERROR: &str =
    "before step breakpoint error file, user decided to skip the current step execution";

/// Bound on `.breakpointexit`: it holds an exit code.
const MAX_EXIT_CODE_FILE_BYTES: u64 = 4096;

/// How long a freshly created, still empty `.breakpointexit` may take to get its content.
const BREAKPOINT_SETTLE: Duration = Duration::from_secs(1);

/// Upstream's `CheckForBreakpointOnFailure`: wait for the user's decision, exit with it.
pub fn wait_on_failure(post_file: &str, signals: Option<&Signals>) -> ! {
    golog::log(ON_FAILURE_MESSAGE);
    let file = format!("{post_file}{BREAKPOINT_EXIT_SUFFIX}");
    let waiter = Waiter::new(signals);
    if let Err(e) = waiter.wait(&file, WaitRules::default()) {
        let text = match e {
            WaitError::Failed(m) => m,
            _ => "error file present, bail and skip the step".to_string(),
        };
        golog::log(&format!("error occurred while waiting for {file} : {text}"));
    }
    waiter.settle_content(&file, BREAKPOINT_SETTLE);
    let code = breakpoint_exit_code(&file).unwrap_or_else(|e| {
        golog::log(&format!(
            "error occurred while reading breakpoint exit code : {e}"
        ));
        0
    });
    // The user ended the debug session: nothing for a successor to detect.
    crate::liveness::remove_now();
    golog::exit(code)
}

/// Reads the exit code from `<post_file>.breakpointexit` (one trailing newline stripped).
/// Upstream's `BreakpointExitCode`: logs the value it parses; errors give code 0.
pub fn breakpoint_exit_code(path: &str) -> Result<i32, String> {
    // An exit code is a few bytes; a FIFO or a huge file there reads as unreadable (empty).
    let raw = match files::read_bounded(std::path::Path::new(path), MAX_EXIT_CODE_FILE_BYTES) {
        Ok(b) => b,
        Err(files::ReadError::NotFound) => {
            return Err(format!("breakpoint postfile {path} not found"));
        }
        Err(_) => Vec::new(),
    };
    let text = String::from_utf8_lossy(&raw);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    golog::log(&format!("Breakpoint exiting with exit code {text}"));
    atoi(text)
}

/// Go's `strconv.Atoi` for the values a debug script writes.
fn atoi(s: &str) -> Result<i32, String> {
    let valid = {
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if !valid {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            goflag::go_quote(s)
        ));
    }
    match s.parse::<i64>() {
        Ok(v) => Ok(v as i32),
        Err(_) => Err(format!(
            "strconv.Atoi: parsing {}: value out of range",
            goflag::go_quote(s)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exit_code() {
        let d = tempfile::tempdir().unwrap();
        let p = d
            .path()
            .join("out.breakpointexit")
            .to_string_lossy()
            .into_owned();
        std::fs::write(&p, "1\n").unwrap();
        assert_eq!(breakpoint_exit_code(&p), Ok(1));
        std::fs::write(&p, "0").unwrap();
        assert_eq!(breakpoint_exit_code(&p), Ok(0));
        std::fs::write(&p, "").unwrap();
        assert!(breakpoint_exit_code(&p).is_err());
        std::fs::write(&p, "1\n\n").unwrap();
        assert!(breakpoint_exit_code(&p).is_err());
        std::fs::remove_file(&p).unwrap();
        assert_eq!(
            breakpoint_exit_code(&p),
            Err(format!("breakpoint postfile {p} not found"))
        );
    }
}
