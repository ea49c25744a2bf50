//! From the step's outcome ([`crate::step::execute`]) to the process exit (docs/contract.md §3.11).

use crate::args::ON_ERROR_CONTINUE;
use crate::step::StepError;

/// What the process does after the step's lifecycle.
/// The default: exit 0 at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitDecision {
    /// Run the on-failure breakpoint first (it exits by itself when the flag is set).
    pub breakpoint_check: bool,
    /// Logged (Go `log`) just before exiting.
    pub log: Option<String>,
    pub code: i32,
}

/// Exit code of a cancelled step: Go's `int(syscall.SIGKILL)`.
pub const CANCELLED_EXIT: i32 = 9;

/// The exit for the step's outcome (upstream's `main` after `e.Go()`).
pub fn decide(result: &Result<(), StepError>, on_error: &str) -> ExitDecision {
    let simple = |log: &str, code| ExitDecision {
        breakpoint_check: false,
        log: Some(log.to_string()),
        code,
    };
    let Err(err) = result else {
        return ExitDecision::default();
    };
    match err {
        StepError::DebugBeforeStep => simple(
            "Skipping execute step script because before step breakpoint fail-continue",
            1,
        ),
        StepError::Skip => simple("Skipping step because a previous step failed", 1),
        StepError::TooLarge => simple(termination::TOO_LARGE_MESSAGE, 1),
        StepError::Cancelled => simple("Step was cancelled", CANCELLED_EXIT),
        StepError::DeadlineExceeded => simple("context deadline exceeded", 1),
        StepError::ChildExit(st) => ExitDecision {
            breakpoint_check: true,
            log: None,
            // Go's os.Exit(-1) for a signalled child becomes status 255.
            code: if on_error == ON_ERROR_CONTINUE {
                0
            } else {
                st.code() & 0xff
            },
        },
        StepError::Other(m) => ExitDecision {
            breakpoint_check: true,
            log: Some(format!("Error executing command: {m}")),
            code: 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid1::ChildStatus;

    fn code(r: Result<(), StepError>, on_error: &str) -> i32 {
        decide(&r, on_error).code
    }

    #[test]
    fn mapping() {
        assert_eq!(code(Ok(()), ""), 0);
        assert_eq!(code(Err(StepError::Skip), ""), 1);
        assert_eq!(code(Err(StepError::DebugBeforeStep), ""), 1);
        assert_eq!(code(Err(StepError::TooLarge), ""), 1);
        assert_eq!(code(Err(StepError::Cancelled), ""), 9);
        assert_eq!(code(Err(StepError::DeadlineExceeded), "continue"), 1);
        let exit3 = StepError::ChildExit(ChildStatus::Exited(3));
        assert_eq!(code(Err(exit3.clone()), ""), 3);
        assert_eq!(code(Err(exit3.clone()), "stopAndFail"), 3);
        assert_eq!(code(Err(exit3), "continue"), 0);
        let killed = StepError::ChildExit(ChildStatus::Signaled(9));
        assert_eq!(code(Err(killed.clone()), ""), 255);
        assert_eq!(code(Err(killed), "continue"), 0);
        assert_eq!(code(Err(StepError::Other("x".into())), "continue"), 1);
    }

    #[test]
    fn logs_and_breakpoints() {
        let p = decide(
            &Err(StepError::Other("negative timeout specified".into())),
            "",
        );
        assert!(p.breakpoint_check);
        assert_eq!(
            p.log.as_deref(),
            Some("Error executing command: negative timeout specified")
        );
        let p = decide(&Err(StepError::Cancelled), "");
        assert!(!p.breakpoint_check);
        assert_eq!(p.log.as_deref(), Some("Step was cancelled"));
        let p = decide(&Err(StepError::DeadlineExceeded), "");
        assert_eq!(p.log.as_deref(), Some("context deadline exceeded"));
        assert!(decide(&Err(StepError::ChildExit(ChildStatus::Exited(1))), "").breakpoint_check);
    }
}
