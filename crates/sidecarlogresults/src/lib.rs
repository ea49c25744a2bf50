//! `sidecarlogresults`: the results sidecar Tekton adds to a TaskRun's pod when the feature
//! flag `results-from` is `sidecar-logs` (`/ko-app/sidecarlogresults`, container
//! `sidecar-tekton-log-results`).
//!
//! With that flag the steps write no termination message; instead this container waits until
//! every step has written its post file (or one has failed, [`wait`]), then prints each result
//! it finds as one JSON line on stdout, which the controller reads back from the container's
//! log: the task results named by `-result-names` (`/tekton/results/<name>`), the step results
//! of `-step-results` ([`step_results`], `/tekton/steps/<step>/results/<name>`, reported as
//! `<step>.<name>`) and the artifacts of the steps in `-step-names` ([`artifacts`],
//! `/tekton/steps/<step>/artifacts/provenance.json`, re-encoded). Lines are written as Go's
//! `json.Encoder` writes `{"name","value","type"}`, in a fixed order: task results in flag
//! order, step results by step name, then artifacts in flag order.
//!
//! The controller parses every line of the log, so on success nothing else is printed, on
//! either stream. Any error is one line on stderr and exit 1, with nothing on stdout, except a
//! result too large for any `max-result-size` (over [`MAX_RESULT_BYTES`]): its line is printed,
//! cut at that size, so that the controller fails the TaskRun with its own "results exceeded
//! size limit" reason, and the error line after it names the file. With
//! `-kubernetes-sidecar-mode` the container is a native sidecar and stays up after printing
//! until SIGTERM or SIGINT (exit 0). See docs/sidecarlogresults.md.

pub mod artifacts;
mod signals;
pub mod step_results;
pub mod wait;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub use gocompat::files::MAX_RESULT_BYTES;
use gocompat::files::ReadError;
use step_results::StepResults;

/// The environment variable with the polling interval (a Go duration).
pub const INTERVAL_ENV: &str = "SIDECAR_LOG_POLLING_INTERVAL";
/// The interval when [`INTERVAL_ENV`] is unset or empty.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
/// Bound on a `provenance.json`: its re-encoded form must fit one log line the controller
/// accepts, and whitespace or unknown fields it drops cannot make a sane file 8 times larger.
pub const PROVENANCE_LIMIT: u64 = 8 * MAX_RESULT_BYTES;

/// What the flags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-results-dir`.
    pub results_dir: String,
    /// `-result-names`, split on `,` (empty when the flag is empty).
    pub result_names: Vec<String>,
    /// `-step-names`: the steps whose artifacts to report.
    pub step_names: Vec<String>,
    /// `-step-results`, undecoded.
    pub step_results: String,
    /// `-kubernetes-sidecar-mode`.
    pub sidecar_mode: bool,
}

/// Upstream's flags, with Go `flag` semantics (so the controller's trailing `true` after
/// `-kubernetes-sidecar-mode` is a positional argument that ends parsing). `Err` carries the
/// usage text for the caller to print.
pub fn parse_flags(
    program: &str,
    args: &[String],
    default_results_dir: &str,
) -> Result<Options, (goflag::FlagError, String)> {
    let mut fs = goflag::FlagSet::new(program);
    fs.string(
        "results-dir",
        default_results_dir,
        "directory holding the task result files",
    );
    fs.string(
        "result-names",
        "",
        "task results to report, separated by commas",
    );
    fs.string(
        "step-results",
        "",
        "JSON object mapping each step container name to the names of its step results",
    );
    fs.string(
        "step-names",
        "",
        "step container names whose artifacts to report, separated by commas",
    );
    fs.bool(
        "kubernetes-sidecar-mode",
        false,
        "after reporting, stay up until SIGTERM (Kubernetes native sidecar)",
    );
    match fs.parse(args) {
        Ok(p) => Ok(Options {
            results_dir: p.str("results-dir").to_string(),
            result_names: split_names(p.str("result-names")),
            step_names: split_names(p.str("step-names")),
            step_results: p.str("step-results").to_string(),
            sidecar_mode: p.bool("kubernetes-sidecar-mode"),
        }),
        Err(err) => Err((err, fs.usage())),
    }
}

/// Go's `strings.Split(s, ",")`, except that an empty flag means no names.
fn split_names(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_string).collect()
    }
}

/// [`INTERVAL_ENV`]'s value (`None` when unset): a Go duration, 100 ms when unset or empty.
/// A zero or negative duration is zero (the wait then re-checks on its own fallback period).
pub fn polling_interval(value: Option<&std::ffi::OsStr>) -> Result<Duration, String> {
    let text = value.map(|v| v.to_string_lossy()).unwrap_or_default();
    if text.is_empty() {
        return Ok(DEFAULT_INTERVAL);
    }
    let nanos = goflag::parse_duration(&text)
        .map_err(|e| format!("error getting polling interval from {INTERVAL_ENV}: {e}"))?;
    Ok(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

/// The `type` of an output line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    Task,
    Step,
    StepArtifact,
}

impl ResultType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::Task => "task",
            ResultType::Step => "step",
            ResultType::StepArtifact => "stepArtifact",
        }
    }
}

/// Appends one output line: `{"name":…,"value":…,"type":…}` and `\n`, as Go's `json.Encoder`
/// writes it (HTML-safe escaping, one `\ufffd` per invalid UTF-8 byte of the value).
pub fn encode_line(out: &mut Vec<u8>, name: &str, value: &[u8], kind: ResultType) {
    out.extend_from_slice(b"{\"name\":");
    gocompat::json::push_bytes(out, name.as_bytes());
    out.extend_from_slice(b",\"value\":");
    gocompat::json::push_bytes(out, value);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// Where the results are read from.
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    /// `-results-dir`.
    pub results_dir: &'a str,
    /// `/tekton/steps`.
    pub steps_dir: &'a str,
    pub result_names: &'a [String],
    pub step_results: &'a StepResults,
    /// `-step-names`.
    pub artifact_steps: &'a [String],
}

/// What to print: the lines for stdout, then, on failure, the error line for stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub stdout: Vec<u8>,
    pub error: Option<String>,
}

impl Report {
    fn failed(error: String) -> Self {
        Report {
            stdout: Vec::new(),
            error: Some(error),
        }
    }
}

/// Reads every result and artifact `src` names (the steps are done) into the output lines.
pub fn collect(src: &Sources<'_>) -> Report {
    let mut out = Vec::new();
    let mut wanted: Vec<(String, String, ResultType)> = src
        .result_names
        .iter()
        .map(|name| {
            let path = gocompat::fs::join(&[src.results_dir, name]);
            (name.clone(), path, ResultType::Task)
        })
        .collect();
    for (step, names) in src.step_results {
        for name in names {
            let path = gocompat::fs::join(&[src.steps_dir, step, "results", name]);
            wanted.push((format!("{step}.{name}"), path, ResultType::Step));
        }
    }
    for (name, path, kind) in wanted {
        match gocompat::files::read_prefix(Path::new(&path), MAX_RESULT_BYTES) {
            Ok((value, false)) => encode_line(&mut out, &name, &value, kind),
            Ok((prefix, true)) => {
                let mut line = Vec::new();
                encode_line(&mut line, &name, &prefix, kind);
                return Report {
                    stdout: line,
                    error: Some(format!(
                        "result {name} ({path}) is larger than {MAX_RESULT_BYTES} bytes, more than any max-result-size allows; its line above is cut at that size"
                    )),
                };
            }
            Err(ReadError::NotFound) => {}
            Err(e) => {
                return Report::failed(format!("error reading result {name}: {}", e.text(&path)));
            }
        }
    }
    for step in src.artifact_steps {
        let path = gocompat::fs::join(&[src.steps_dir, step, "artifacts", "provenance.json"]);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Report::failed(format!(
                    "error reading artifacts of {step}: {}",
                    gocompat::fs::path_error("stat", &path, &e)
                ));
            }
        }
        let data = match gocompat::files::read_bounded(Path::new(&path), PROVENANCE_LIMIT) {
            Ok(data) => data,
            Err(ReadError::NotFound) => continue,
            Err(e) => {
                return Report::failed(format!(
                    "error reading artifacts of {step}: {}",
                    e.text(&path)
                ));
            }
        };
        match artifacts::decode(&data) {
            Ok(a) => encode_line(
                &mut out,
                step,
                &artifacts::encode(&a),
                ResultType::StepArtifact,
            ),
            Err(e) => return Report::failed(format!("invalid artifacts in {path}: {e}")),
        }
    }
    Report {
        stdout: out,
        error: None,
    }
}

/// Everything after the flags: decode `-step-results`, wait for the steps, read. Errors that
/// come before any output are a [`Report`] with no stdout.
pub fn produce(
    opts: &Options,
    layout: &stepkit_layout::Layout,
    interval_env: Option<&std::ffi::OsStr>,
) -> Report {
    let step_results = match step_results::decode(&opts.step_results) {
        Ok(s) => s,
        Err(e) => return Report::failed(format!("invalid -step-results: {e}")),
    };
    let interval = match polling_interval(interval_env) {
        Ok(i) => i,
        Err(e) => return Report::failed(e),
    };
    let run_dir = layout.tekton().join("run");
    if let Err(e) = wait::for_steps(&run_dir, interval) {
        return Report::failed(e);
    }
    let steps_dir = layout.steps_dir().to_string_lossy().into_owned();
    collect(&Sources {
        results_dir: &opts.results_dir,
        steps_dir: &steps_dir,
        result_names: &opts.result_names,
        step_results: &step_results,
        artifact_steps: &opts.step_names,
    })
}

/// The whole binary: `argv` with argv\[0\]; returns the exit code (0; 1 on any error; 2 for a
/// flag error, as Go's `flag` package).
pub fn run(argv: &[String], layout: &stepkit_layout::Layout) -> i32 {
    let program = argv.first().map_or("sidecarlogresults", String::as_str);
    let default_results = layout.results_dir().to_string_lossy().into_owned();
    let opts = match parse_flags(program, argv.get(1..).unwrap_or(&[]), &default_results) {
        Ok(opts) => opts,
        Err((e, usage)) => return e.report(&usage),
    };
    if opts.sidecar_mode {
        if let Err(e) = signals::hold() {
            golog::log(&e);
            return 1;
        }
    }
    let report = produce(&opts, layout, std::env::var_os(INTERVAL_ENV).as_deref());
    if !report.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(&report.stdout)
            .and_then(|()| stdout.flush())
        {
            golog::log(&format!("error writing results: {e}"));
            return 1;
        }
    }
    if let Some(error) = report.error {
        golog::log(&error);
        return 1;
    }
    if opts.sidecar_mode {
        if let Err(e) = signals::wait() {
            golog::log(&e);
            return 1;
        }
    }
    0
}
