//! `imagedigestexporter`: the step a Tekton v0.37.2 controller appends to every TaskRun with
//! an image output resource (`/ko-app/imagedigestexporter -images '<JSON>'`).
//!
//! For each image resource, in order, it reads `<OutputImageDir>/index.json` (an OCI image
//! layout the build left there): unreadable, the image is skipped with an INFO line;
//! readable, its digest ([`oci`]) is reported as a `digest` and a `url` entry carrying the
//! resource's name, which the controller copies into `status.resourcesResult`. The entries are
//! appended to the termination message with the `termination` crate (4096-byte limit, Go's
//! JSON), `[]` when no image was found. An index that does not decode, or a digest that does
//! not parse, fails the step (exit 1) before anything is written, as upstream does.
//!
//! The controller only reads the termination message and the exit code, which match
//! upstream's binary byte for byte; the log lines ([`knative`]) and error texts follow it too,
//! since users read them. Where upstream would hang, crash or leave a corrupt file, stepkit
//! stops with one line instead (see docs/imagedigestexporter.md).

pub mod decode;
pub mod hash;
pub mod knative;
pub mod oci;

use std::ffi::OsStr;
use std::path::Path;

use knative::{Logger, caller};
use termination::RunResult;

/// What the flags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-images`: the JSON list of image resources.
    pub images: String,
    /// `-terminationMessagePath`.
    pub termination_message_path: String,
}

/// Upstream's flags, with Go `flag` semantics. Upstream registers no others (its logger
/// adds none). `Err` carries the usage text for the caller to print.
pub fn parse_flags(
    program: &str,
    args: &[String],
    default_termination: &str,
) -> Result<Options, (goflag::FlagError, String)> {
    let mut fs = goflag::FlagSet::new(program);
    fs.string(
        "images",
        "",
        "List of images resources built by task in json format",
    );
    fs.string(
        "terminationMessagePath",
        default_termination,
        "Location of file containing termination message",
    );
    match fs.parse(args) {
        Ok(parsed) => Ok(Options {
            images: parsed.str("images").to_string(),
            termination_message_path: parsed.str("terminationMessagePath").to_string(),
        }),
        Err(err) => Err((err, fs.usage())),
    }
}

/// The whole binary: `argv` with argv\[0\]; returns the exit code.
pub fn run(argv: &[String]) -> i32 {
    let program = argv.first().map_or("imagedigestexporter", String::as_str);
    let layout = stepkit_layout::Layout::from_env();
    let default_termination = layout.termination_file().to_string_lossy().into_owned();
    let opts = match parse_flags(program, argv.get(1..).unwrap_or(&[]), &default_termination) {
        Ok(opts) => opts,
        Err((e, usage)) => return e.report(&usage),
    };
    let ko_data_path = std::env::var_os("KO_DATA_PATH");
    let log = Logger::start(ko_data_path.as_deref().map(OsStr::new));
    export(&opts, &log)
}

/// Exports the digests `opts` asks for; returns the exit code (0, 1 on a fatal error, 2 for
/// a `null` image resource, where upstream panics).
pub fn export(opts: &Options, log: &Logger) -> i32 {
    let images = match gocompat::json::parse(opts.images.as_bytes())
        .map_err(String::from)
        .and_then(|n| decode::images(&n))
    {
        Ok(images) => images,
        Err(err) => {
            log.fatal(
                caller::READ_IMAGES,
                &format!("Error reading images array: {err}"),
            );
            return 1;
        }
    };
    let mut entries = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let Some(image) = image else {
            log.fatal(
                caller::NULL_IMAGE,
                &format!("Error reading images array: image resource {i} is null"),
            );
            return 2;
        };
        match oci::image_digest(&image.output_image_dir) {
            Ok(None) => log.info(
                caller::NO_INDEX,
                &format!("No index.json found for: {}", image.name),
            ),
            Ok(Some(digest)) => {
                entries.push(entry("digest", &digest, &image.name));
                entries.push(entry("url", &image.url, &image.name));
            }
            Err(err) => {
                log.fatal(
                    caller::DIGEST,
                    &format!(
                        "Unexpected error getting image digest for {}: {err}",
                        image.name
                    ),
                );
                return 1;
            }
        }
    }
    let path = &opts.termination_message_path;
    if let Err(err) = termination::write_message(Path::new(path), &entries, false) {
        // Upstream's message names the path where the error belongs, and the error last.
        log.fatal(
            caller::WRITE,
            &format!("Unexpected error writing message {path} to {err}"),
        );
        return 1;
    }
    0
}

/// A `PipelineResourceResult`: no `type`, the resource's name.
fn entry(key: &str, value: &str, resource: &str) -> RunResult {
    RunResult {
        resource_name: resource.to_string(),
        ..RunResult::new(key, value, 0)
    }
}

#[cfg(test)]
mod tests;
