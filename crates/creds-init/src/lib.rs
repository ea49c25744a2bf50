//! The legacy standalone `creds-init` binary (upstream `cmd/creds-init`, last shipped in
//! Pipelines v0.19): parse the five credential flags (Go `flag` semantics: exit 2 on a bad
//! value, 0 for `-h`), write `/tekton/creds` (docker, then git; a writer error is fatal, exit
//! 1), then copy them to `$HOME` (where the ≤v0.13 init container wrote them), logging with
//! zap's production JSON format.
//!
//! Upstream v0.14–v0.19 forgot to register the flags at all (any flag was exit 2); this follows
//! the flags of v0.13 and of today's entrypoint instead.

use std::cell::RefCell;

use credentials::Credentials;
use golog::zap::{Level, Logger};
use stepkit_layout::Layout;

/// Upstream's zap callers for the two messages it logs.
const CALLER_FATAL: &str = "creds-init/main.go:42";
const CALLER_DONE: &str = "creds-init/main.go:45";
/// Not in upstream's binary: the `$HOME` copy warnings.
const CALLER_COPY: &str = "creds-init/main.go:44";

/// Stands in for Go's stack trace (which cannot be reproduced); zap's key is kept.
const STACKTRACE: &str = "main.main\n\tstepkit creds-init";

/// Runs creds-init with `args` (argv including argv[0]) on `layout`; returns the exit code.
pub fn run(args: &[String], layout: Layout) -> i32 {
    let program = args.first().map(String::as_str).unwrap_or("creds-init");
    let state = RefCell::new(Credentials::new(layout.clone()));
    {
        let mut fs = goflag::FlagSet::new(program);
        Credentials::register_flags(&state, &mut fs);
        if let Err(e) = fs.parse(args.get(1..).unwrap_or(&[])) {
            return e.report(&fs.usage());
        }
    }
    let creds = state.into_inner();
    let log = Logger::stderr(STACKTRACE);
    // Docker first; its failure is fatal before git is written, like upstream's Fatalf.
    let writers: [&dyn Fn() -> Result<(), String>; 2] =
        [&|| creds.write_docker(), &|| creds.write_git()];
    for write in writers {
        if let Err(e) = write() {
            log.log(
                Level::Fatal,
                CALLER_FATAL,
                &format!("Error initializing credentials: {e}"),
            );
            return 1;
        }
    }
    let home = std::env::var_os("HOME");
    credentials::copy_creds_to_home(&layout.creds_dir(), home.as_deref(), None, &mut |msg| {
        log.warn(CALLER_COPY, msg)
    });
    log.info(CALLER_DONE, "Credentials initialized.");
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use golog::zap::format_line;

    fn zap_line(level: Level, ts: f64, caller: &str, msg: &str) -> String {
        format_line(level, ts, caller, msg, STACKTRACE)
    }

    #[test]
    fn zap_shape() {
        assert_eq!(
            zap_line(
                Level::Info,
                1718000000.0102,
                CALLER_DONE,
                "Credentials initialized."
            ),
            r#"{"level":"info","ts":1718000000.0102,"caller":"creds-init/main.go:45","msg":"Credentials initialized."}"#
        );
        let l = zap_line(Level::Fatal, 1.5, CALLER_FATAL, "a\"b\n\u{1}<");
        assert!(l.starts_with(r#"{"level":"fatal","ts":1.5,"caller":"creds-init/main.go:42","msg":"a\"b\n\u0001<","stacktrace":""#), "{l}");
    }
}
