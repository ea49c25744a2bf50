//! Command line of the step wrapper: the `--` split and the flag set (docs/contract.md §3.2).
//!
//! The controller passes `<flags…> -- <command args…>`. Only the part before the first `--` is
//! parsed as flags; a `--` at index 0 is left to the flag parser, which then turns everything
//! after it into positional arguments (checked for subcommands, otherwise discarded).

use goflag::{FlagSet, Parsed};
use stepkit_layout::Layout;

/// The value of `-result_from` that keeps results in the termination message.
pub const RESULT_FROM_TERMINATION_MESSAGE: &str = "termination-message";
/// The `-on_error` value that turns a failing child into a success.
pub const ON_ERROR_CONTINUE: &str = "continue";
/// Default of `-spire_socket_path`.
pub const DEFAULT_SPIRE_SOCKET: &str = "unix:///spiffe-workload-api/spire-agent.sock";

/// Splits `argv[1..]` into (flags, command args) like upstream's `extractArgs`.
pub fn split(args: &[String]) -> (Vec<String>, Vec<String>) {
    match args.iter().position(|a| a == "--") {
        Some(t) if t > 0 => (args[..t].to_vec(), args[t + 1..].to_vec()),
        _ => (args.to_vec(), Vec::new()),
    }
}

/// Every flag of the HEAD binary except the credential flags (registered by `credentials`).
pub fn register(fs: &mut FlagSet<'_>, layout: &Layout) {
    fs.string("entrypoint", "", "Original specified entrypoint to execute");
    fs.string("wait_file", "", "Comma-separated list of paths to wait for");
    fs.bool(
        "wait_file_content",
        false,
        "If specified, expect wait_file to have content",
    );
    fs.string(
        "post_file",
        "",
        "If specified, file to write upon completion",
    );
    fs.string(
        "termination_path",
        &layout.termination_file().to_string_lossy(),
        "If specified, file to write upon termination",
    );
    fs.string(
        "results",
        "",
        "If specified, list of file names that might contain task results",
    );
    fs.string("step_results", "", "step results if specified");
    fs.string("when_expressions", "", "when expressions if specified");
    fs.duration("timeout", 0, "If specified, sets timeout for step");
    fs.string("stdout_path", "", "If specified, file to copy stdout to");
    fs.string("stderr_path", "", "If specified, file to copy stderr to");
    fs.bool(
        "breakpoint_on_failure",
        false,
        "If specified, expect steps to not skip on failure",
    );
    fs.bool(
        "debug_before_step",
        false,
        "If specified, wait for a debugger to attach before executing the step",
    );
    fs.string(
        "on_error",
        "",
        "Set to \"continue\" to ignore an error and continue when a container terminates with a non-zero exit code. Set to \"stopAndFail\" to declare a failure with a step error and stop executing the rest of the steps.",
    );
    fs.string(
        "step_metadata_dir",
        "",
        "If specified, create directory to store the step metadata e.g. /tekton/steps/<step-name>/",
    );
    fs.string(
        "result_from",
        RESULT_FROM_TERMINATION_MESSAGE,
        "The method using which to extract results from tasks. Default is using the termination message.",
    );
    fs.bool(
        "compress_termination_message",
        false,
        "If true, compress termination messages with flate to fit more results in the 4KB Kubernetes limit.",
    );
    fs.bool(
        "enable_spire",
        false,
        "If specified by configmap, this enables spire signing and verification",
    );
    fs.string(
        "spire_socket_path",
        DEFAULT_SPIRE_SOCKET,
        "Experimental: The SPIRE agent socket for SPIFFE workload API.",
    );
}

/// The parsed entrypoint flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub entrypoint: String,
    /// `-wait_file` split on `,` (`""` gives `[""]`, i.e. no wait).
    pub wait_files: Vec<String>,
    pub wait_file_content: bool,
    pub post_file: String,
    pub termination_path: String,
    pub results: Vec<String>,
    pub step_results: Vec<String>,
    pub when_expressions: String,
    /// Nanoseconds; 0 = none, negative = error at run time.
    pub timeout: i64,
    pub stdout_path: String,
    pub stderr_path: String,
    pub breakpoint_on_failure: bool,
    pub debug_before_step: bool,
    pub on_error: String,
    pub step_metadata_dir: String,
    pub result_from: String,
    pub compress_termination_message: bool,
    pub enable_spire: bool,
    pub spire_socket_path: String,
}

impl Config {
    pub fn from_parsed(p: &Parsed) -> Self {
        let split = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        Config {
            entrypoint: p.str("entrypoint").to_string(),
            wait_files: split(p.str("wait_file")),
            wait_file_content: p.bool("wait_file_content"),
            post_file: p.str("post_file").to_string(),
            termination_path: p.str("termination_path").to_string(),
            results: split(p.str("results")),
            step_results: split(p.str("step_results")),
            when_expressions: p.str("when_expressions").to_string(),
            timeout: p.duration("timeout"),
            stdout_path: p.str("stdout_path").to_string(),
            stderr_path: p.str("stderr_path").to_string(),
            breakpoint_on_failure: p.bool("breakpoint_on_failure"),
            debug_before_step: p.bool("debug_before_step"),
            on_error: p.str("on_error").to_string(),
            step_metadata_dir: p.str("step_metadata_dir").to_string(),
            result_from: p.str("result_from").to_string(),
            compress_termination_message: p.bool("compress_termination_message"),
            enable_spire: p.bool("enable_spire"),
            spire_socket_path: p.str("spire_socket_path").to_string(),
        }
    }

    /// Results go into the termination message only with `-result_from termination-message`.
    pub fn results_in_message(&self) -> bool {
        self.result_from == RESULT_FROM_TERMINATION_MESSAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn split_table() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&[], &[], &[]),
            (
                &["--foo", "bar", "a", "b", "c"],
                &["--foo", "bar", "a", "b", "c"],
                &[],
            ),
            (&["--foo", "bar", "--"], &["--foo", "bar"], &[]),
            (
                &["--foo", "bar", "--", "a", "b", "c"],
                &["--foo", "bar"],
                &["a", "b", "c"],
            ),
            (
                &["--foo", "bar", "baz", "--", "a", "b", "c"],
                &["--foo", "bar", "baz"],
                &["a", "b", "c"],
            ),
            // `--` at index 0 stays with the flags (the flag parser consumes it).
            (&["--", "echo", "hi"], &["--", "echo", "hi"], &[]),
            // Only the first `--` splits.
            (&["-x", "--", "a", "--", "b"], &["-x"], &["a", "--", "b"]),
        ];
        for (input, flags, cmd) in cases {
            assert_eq!(split(&v(input)), (v(flags), v(cmd)), "input {input:?}");
        }
    }

    fn parse(args: &[&str]) -> Result<Config, goflag::FlagError> {
        let layout = Layout::default();
        let mut fs = FlagSet::new("entrypoint");
        register(&mut fs, &layout);
        fs.parse(&v(args)).map(|p| Config::from_parsed(&p))
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.wait_files, v(&[""]));
        assert_eq!(c.results, v(&[""]));
        assert_eq!(c.termination_path, "/tekton/termination");
        assert_eq!(c.result_from, "termination-message");
        assert_eq!(c.spire_socket_path, DEFAULT_SPIRE_SOCKET);
        assert_eq!(c.timeout, 0);
        assert!(c.results_in_message());
    }

    #[test]
    fn controller_argv() {
        let c = parse(&[
            "-wait_file",
            "/tekton/run/0/out",
            "-post_file",
            "/tekton/run/1/out",
            "-on_error",
            "continue",
            "-timeout",
            "5m0s",
            "-step_results",
            "a,b",
            "--when_expressions",
            "[]",
            "-compress_termination_message=true",
            "-entrypoint",
            "-weird",
        ])
        .unwrap();
        assert_eq!(c.wait_files, v(&["/tekton/run/0/out"]));
        assert_eq!(c.timeout, 300_000_000_000);
        assert_eq!(c.step_results, v(&["a", "b"]));
        assert_eq!(c.when_expressions, "[]");
        assert!(c.compress_termination_message);
        assert_eq!(c.entrypoint, "-weird");
    }

    #[test]
    fn unknown_flag_is_error() {
        assert!(matches!(
            parse(&["-dont_send_results_to_termination_path"]),
            Err(goflag::FlagError::Invalid(_))
        ));
    }
}
