//! Tekton termination messages: the JSON array of results a step leaves in
//! `/tekton/termination` for the controller.
//!
//! Everything observable is Go-compatible: [`encode_json`] produces exactly the bytes of Go's
//! `json.Marshal([]RunResult)` (the 4096-byte limit is measured on them), [`compress`] the
//! `tknz:` format (`"tknz:" + base64 RawStd(raw DEFLATE)`), and [`write_message`]
//! follows upstream's append-and-rewrite-in-place algorithm. [`parse_message`] is the
//! controller's reader, used by tests and tools.
//!
//! Go-style helpers (string encoding, path errors, base64) come from the `gocompat` crate.

mod json;

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use gocompat::files;
use gocompat::{base64 as gobase64, fs as gofs};

/// Largest message the entrypoint may write (Kubernetes truncates longer ones).
pub const MAX_MESSAGE_SIZE: usize = 4096;
/// Largest decompressed `tknz:` payload a reader accepts (decompression-bomb guard).
pub const MAX_DECOMPRESSED_SIZE: usize = 128 * 1024;
/// Prefix marking a compressed message.
pub const COMPRESSED_PREFIX: &str = "tknz:";
/// Error text for a message above [`MAX_MESSAGE_SIZE`] (upstream wording).
pub const TOO_LARGE_MESSAGE: &str =
    "Termination message is above max allowed size 4096, caused by large task result.";

/// `TaskRunResult`: a task result.
pub const TASK_RUN_RESULT: u8 = 1;
/// `InternalTektonResult`: `StartedAt`, `ExitCode`, `Reason`.
pub const INTERNAL_RESULT: u8 = 3;
/// `StepResult`: a step result.
pub const STEP_RESULT: u8 = 4;
/// `StepArtifactsResult`: a step's `provenance.json`.
pub const STEP_ARTIFACTS_RESULT: u8 = 5;
/// `TaskRunArtifactsResult`: the task's `provenance.json`.
pub const TASK_RUN_ARTIFACTS_RESULT: u8 = 6;
/// What readers assign to an unknown legacy string type.
pub const UNKNOWN_RESULT: u8 = 10;

/// One entry of the message (`pkg/result.RunResult`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunResult {
    pub key: String,
    /// Raw bytes; invalid UTF-8 is encoded as Go does (`\ufffd` per bad byte).
    pub value: Vec<u8>,
    pub resource_name: String,
    /// 0 = not emitted.
    pub result_type: u8,
}

impl RunResult {
    /// An entry without a resource name.
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>, result_type: u8) -> Self {
        RunResult {
            key: key.into(),
            value: value.into(),
            resource_name: String::new(),
            result_type,
        }
    }

    /// The value as text (invalid UTF-8 replaced per byte, as Go readers see it).
    pub fn value_str(&self) -> String {
        json::go_lossy_utf8(&self.value).into_owned()
    }
}

/// Byte-identical to Go's `json.Marshal([]RunResult)` (an empty slice is `[]`).
pub fn encode_json(entries: &[RunResult]) -> Vec<u8> {
    json::encode(entries)
}

/// `"tknz:" + base64 RawStd(raw DEFLATE of json)`. zlib's level 9 first (~0.1 ms); when that
/// message would not fit in [`MAX_MESSAGE_SIZE`] but might with a better encoder, zopfli's
/// (a few ms, paid only then), whichever is shorter. More results fit than with Go's encoder
/// (docs/termination.md); any valid raw DEFLATE stream is accepted by Go's `compress/flate`.
pub fn compress(json: &[u8]) -> Vec<u8> {
    let zlib = tknz(&deflate_zlib(json));
    // zopfli saves ~10 % on result data: past 5/4 of the limit it cannot help. Its CPU grows
    // with the input and with repetition: bounded by the JSON's size.
    if zlib.len() <= MAX_MESSAGE_SIZE
        || zlib.len() > MAX_MESSAGE_SIZE / 4 * 5
        || json.len() > ZOPFLI_MAX_INPUT
    {
        return zlib;
    }
    match deflate_zopfli(json) {
        Some(deflated) => {
            let better = tknz(&deflated);
            if better.len() < zlib.len() {
                better
            } else {
                zlib
            }
        }
        None => zlib,
    }
}

fn tknz(deflated: &[u8]) -> Vec<u8> {
    let mut out = COMPRESSED_PREFIX.as_bytes().to_vec();
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(deflated)
            .as_bytes(),
    );
    out
}

fn deflate_zlib(json: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    // Deflating into a Vec cannot fail; an empty stream would make readers fail loudly.
    encoder
        .write_all(json)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

/// Tuned on 64- and 512-byte hex results (bench capacity): 3 passes and a single block split
/// reach the capacity of zopfli's defaults (15 and 15) at a quarter of the CPU, ~3 ms for a
/// full 4 KiB message.
const ZOPFLI_ITERATIONS: std::num::NonZeroU64 = std::num::NonZeroU64::MIN.saturating_add(2);
const ZOPFLI_BLOCK_SPLITS: u16 = 1;
/// Largest JSON given to zopfli: 16-byte hex results near the limit are ~14.5 KiB.
const ZOPFLI_MAX_INPUT: usize = 16 * 1024;

fn deflate_zopfli(json: &[u8]) -> Option<Vec<u8>> {
    // Larger inputs (small or repetitive values) get one pass: the CPU stays ~linear in the
    // output, and one pass already beats Go's encoder there.
    let iteration_count = if json.len() > ZOPFLI_MAX_INPUT / 2 {
        std::num::NonZeroU64::MIN
    } else {
        ZOPFLI_ITERATIONS
    };
    let options = zopfli::Options {
        iteration_count,
        maximum_block_splits: ZOPFLI_BLOCK_SPLITS,
        ..zopfli::Options::default()
    };
    let mut out = Vec::new();
    zopfli::compress(options, zopfli::Format::Deflate, json, &mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// Decodes a compressed message. `msg` is the whole message **including** the `tknz:` prefix.
/// Go's rules: base64 RawStd (`\r`/`\n` ignored, no `=`), raw DEFLATE, at most 128 KiB out.
pub fn decompress(msg: &[u8]) -> Result<Vec<u8>, String> {
    let Some(encoded) = msg.strip_prefix(COMPRESSED_PREFIX.as_bytes()) else {
        return Err("not a compressed termination message (no tknz: prefix)".to_string());
    };
    let deflated = gobase64::decode_raw_std(encoded).map_err(|e| format!("base64 decode: {e}"))?;
    inflate_limited(&deflated, MAX_DECOMPRESSED_SIZE)
}

/// Raw-DEFLATE decode that stops once `limit + 1` bytes are produced (like Go's
/// `io.LimitReader(flate.NewReader(..), limit+1)`) and then reports the limit.
fn inflate_limited(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut inflater = Decompress::new(false);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let consumed_so_far = usize::try_from(in_before)
            .unwrap_or(input.len())
            .min(input.len());
        let status = inflater
            .decompress(&input[consumed_so_far..], &mut buf, FlushDecompress::None)
            .map_err(|_| "flate decompress: flate: corrupt input".to_string())?;
        let produced = usize::try_from(inflater.total_out() - out_before).unwrap_or(0);
        out.extend_from_slice(&buf[..produced]);
        if out.len() > limit {
            return Err(format!(
                "decompressed termination message exceeds {limit} byte limit"
            ));
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if produced == 0 && inflater.total_in() == in_before {
            // Input exhausted before the final block.
            return Err("flate decompress: unexpected EOF".to_string());
        }
    }
}

/// Go's `json.Unmarshal` of a message body into `[]RunResult` (zero entries kept).
pub fn decode_json(json: &[u8]) -> Result<Vec<RunResult>, String> {
    json::decode(json)
}

/// Upstream `parseExisting`: `tknz:` messages are decompressed, anything else is plain JSON.
pub fn parse_existing(data: &[u8]) -> Result<Vec<RunResult>, String> {
    if data.starts_with(COMPRESSED_PREFIX.as_bytes()) {
        let json = decompress(data)?;
        return json::decode(&json);
    }
    json::decode(data)
}

/// The controller's `ParseMessage`: `tknz:` auto-detected, keys case-insensitive, `type` int or
/// legacy string, zero entries dropped, duplicate keys resolved last-wins, sorted by key.
/// An empty message yields no entries.
pub fn parse_message(msg: &[u8]) -> Result<Vec<RunResult>, String> {
    if msg.is_empty() {
        return Ok(Vec::new());
    }
    let decompressed;
    let json: &[u8] = if msg.starts_with(COMPRESSED_PREFIX.as_bytes()) {
        decompressed =
            decompress(msg).map_err(|e| format!("decompressing termination message: {e}"))?;
        &decompressed
    } else {
        msg
    };
    let entries = json::decode(json).map_err(|e| {
        let text = json::go_lossy_utf8(json);
        let shown: String = if text.len() > 256 {
            let mut end = 256;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...(truncated)", &text[..end])
        } else {
            text.into_owned()
        };
        format!("parsing message json: {e}, msg: {shown}")
    })?;
    let mut by_key: std::collections::BTreeMap<String, RunResult> = Default::default();
    for entry in entries {
        if entry != RunResult::default() {
            by_key.insert(entry.key.clone(), entry);
        }
    }
    Ok(by_key.into_values().collect())
}

/// Why [`write_message`] wrote nothing.
#[derive(Debug)]
pub enum WriteError {
    /// The final message is above [`MAX_MESSAGE_SIZE`].
    TooLarge,
    /// Reading the existing message or writing the new one failed.
    Io { path: PathBuf, source: io::Error },
    /// The file at the termination path is not a regular file (a FIFO, a device): the one-line
    /// text naming it.
    NotRegular(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::TooLarge => f.write_str(TOO_LARGE_MESSAGE),
            WriteError::Io { path, source } => {
                // Go prints the failing operation first (`open`, `read`, `write`).
                let op = match source.raw_os_error() {
                    Some(21) => "read",
                    Some(5 | 27 | 28 | 122) => "write",
                    _ => "open",
                };
                f.write_str(&gofs::path_error(op, path, source))
            }
            WriteError::NotRegular(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::TooLarge | WriteError::NotRegular(_) => None,
            WriteError::Io { source, .. } => Some(source),
        }
    }
}

/// Appends `entries` to the message at `path` (upstream `writeMessage`, HEAD):
///
/// 1. read the existing file (missing is fine); unless whitespace-only, parse it (`tknz:` or
///    plain JSON) and prepend its entries; unparsable content is silently dropped;
/// 2. encode; with `compress`, use the `tknz:` form only when strictly shorter;
/// 3. above 4096 bytes: [`WriteError::TooLarge`], nothing written;
/// 4. rewrite **in place** (`O_WRONLY|O_CREAT|O_TRUNC`, 0666) and fsync. Never rename: the file
///    is a kubelet bind mount.
pub fn write_message(path: &Path, entries: &[RunResult], compress: bool) -> Result<(), WriteError> {
    let io_err = |source: io::Error| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut all: Vec<RunResult> = Vec::new();
    match read_existing(path) {
        Err(files::ReadError::TooLarge { .. }) => {
            // Not a message a step wrote (those are at most 4096 bytes): unparseable.
            if compress {
                golog_warn(path, &format!("larger than {MAX_MESSAGE_SIZE} bytes"));
            }
        }
        Err(e @ files::ReadError::NotRegular(_)) => {
            return Err(WriteError::NotRegular(e.text(path)));
        }
        Err(files::ReadError::Io(_, err)) => return Err(io_err(err)),
        Err(files::ReadError::NotFound) => {}
        Ok(contents) => {
            let blank = json::go_lossy_utf8(&contents)
                .chars()
                .all(char::is_whitespace);
            if !blank {
                match parse_existing(&contents) {
                    Ok(existing) => all = existing,
                    Err(err) => {
                        if compress {
                            golog_warn(path, &err);
                        }
                    }
                }
            }
        }
    }
    all.extend_from_slice(entries);

    let plain = encode_json(&all);
    let output = if compress {
        let packed = self::compress(&plain);
        if packed.len() < plain.len() {
            packed
        } else {
            plain
        }
    } else {
        plain
    };
    if output.len() > MAX_MESSAGE_SIZE {
        return Err(WriteError::TooLarge);
    }

    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        // A FIFO planted after the read is refused (ENXIO), never waited on.
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err)?;
    file.write_all(&output).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

/// The existing message, bounded by what any step can have written ([`MAX_MESSAGE_SIZE`]).
fn read_existing(path: &Path) -> Result<Vec<u8>, files::ReadError> {
    files::read_bounded(path, MAX_MESSAGE_SIZE as u64)
}

/// Upstream warns (slog, stderr) only when compressing; the plain path stays silent.
fn golog_warn(path: &Path, err: &str) {
    golog::slog(
        "WARN",
        &format!(
            "Failed to parse existing termination message, previous results will be lost error={} path={}",
            golog::slog_value(err),
            golog::slog_value(&path.to_string_lossy())
        ),
    );
}

#[cfg(test)]
mod tests;
