//! git-init's outputs in the catalog flavour: the termination message (`commit`, `url`, and
//! stepkit's `committer-date`) and, when the pod has a results directory, the Task result files
//! the catalog Task's shell script would otherwise write with `printf`. (The v0.37.2 flavour
//! writes its two resource results through the `termination` crate instead, as v0.37.2's
//! other binaries did; see [`crate::flavour`].)

use std::io::Write;
use std::path::Path;

use gocompat::files::{Mode, ReadError};

/// Upstream's limit for the serialised message.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// One `{"key":…,"value":…}` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// v0.37.2's `resourceName` (omitted when empty).
    pub resource_name: String,
    /// Tekton's result type (omitted when 0).
    pub result_type: i64,
}

impl Entry {
    pub fn new(key: &str, value: &str, resource_name: &str) -> Self {
        Entry {
            key: key.to_string(),
            value: value.to_string(),
            resource_name: resource_name.to_string(),
            result_type: 0,
        }
    }
}

/// `json.Marshal` of the entries.
pub fn encode(entries: &[Entry]) -> String {
    let mut s = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"key\":");
        gocompat::json::push_str(&mut s, &e.key);
        s.push_str(",\"value\":");
        gocompat::json::push_str(&mut s, &e.value);
        if !e.resource_name.is_empty() {
            s.push_str(",\"resourceName\":");
            gocompat::json::push_str(&mut s, &e.resource_name);
        }
        if e.result_type != 0 {
            s.push_str(&format!(",\"type\":{}", e.result_type));
        }
        s.push('}');
    }
    s.push(']');
    s
}

fn parse_existing(data: &[u8]) -> Option<Vec<Entry>> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let arr = v.as_array()?;
    let mut out = Vec::new();
    for item in arr {
        let obj = item.as_object()?;
        let text = |k: &str| -> Option<String> {
            match obj.get(k) {
                None | Some(serde_json::Value::Null) => Some(String::new()),
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(_) => None,
            }
        };
        out.push(Entry {
            key: text("key")?,
            value: text("value")?,
            resource_name: text("resourceName")?,
            result_type: match obj.get("type") {
                None | Some(serde_json::Value::Null) => 0,
                Some(t) => t.as_i64()?,
            },
        });
    }
    Some(out)
}

/// Writes the termination message: appended to a parseable existing message, else replacing
/// the file; fails above 4096 bytes (upstream's text).
pub fn write_termination_message(path: &Path, entries: &[Entry]) -> Result<(), String> {
    let mut all = Vec::new();
    // Bounded by what any step can have written; a larger file is unparseable, so replaced.
    match gocompat::files::read_bounded(path, MAX_MESSAGE_LEN as u64) {
        Ok(data) => {
            if let Some(existing) = parse_existing(&data) {
                all = existing;
            }
        }
        Err(ReadError::NotFound | ReadError::TooLarge { .. }) => {}
        Err(ReadError::Io(op, e)) => return Err(go_io_error(op, path, &e)),
        Err(e @ ReadError::NotRegular(_)) => return Err(e.text(path)),
    }
    all.extend_from_slice(entries);
    let out = encode(&all);
    if out.len() > MAX_MESSAGE_LEN {
        return Err(format!(
            "termination message is above max allowed size {MAX_MESSAGE_LEN}"
        ));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o666);
    // A FIFO planted after the read is refused (ENXIO), never waited on.
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let mut f = opts.open(path).map_err(|e| go_io_error("open", path, &e))?;
    f.write_all(out.as_bytes())
        .map_err(|e| go_io_error("write", path, &e))?;
    f.sync_all().map_err(|e| go_io_error("sync", path, &e))
}

/// Writes `<dir>/<name>` whole (temporary file + rename), without a trailing newline.
pub fn write_result_file(dir: &Path, name: &str, value: &str) -> Result<(), String> {
    let target = dir.join(name);
    // Mode 0666 before the umask, as Go's os.WriteFile creates it.
    gocompat::files::write_whole(&target, value.as_bytes(), Mode::Umask(0o666), false)
        .map_err(|e| go_io_error(e.op, &target, &e.err))
}

/// Go's `*PathError` text and errno text, under the names lib.rs uses.
pub use gocompat::fs::{io_error_text as go_errno_text, path_error as go_io_error};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        let e = [
            Entry::new("commit", "abc", ""),
            Entry::new("url", "https://x/<a>&\u{2028}\n", "src"),
        ];
        assert_eq!(
            encode(&e),
            r#"[{"key":"commit","value":"abc"},{"key":"url","value":"https://x/\u003ca\u003e\u0026\u2028\n","resourceName":"src"}]"#
        );
    }

    #[test]
    fn merge_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("termination");
        write_termination_message(&p, &[Entry::new("key1", "hello", "")]).unwrap();
        write_termination_message(&p, &[Entry::new("key2", "world", "")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"key":"key1","value":"hello"},{"key":"key2","value":"world"}]"#
        );
        std::fs::write(&p, "not json at all, and long").unwrap();
        write_termination_message(&p, &[Entry::new("k", "v", "")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"key":"k","value":"v"}]"#
        );
        let big = "x".repeat(4096);
        let err = write_termination_message(&dir.path().join("t2"), &[Entry::new("k", &big, "")])
            .unwrap_err();
        assert_eq!(err, "termination message is above max allowed size 4096");
        write_result_file(dir.path(), "commit", "abc").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("commit")).unwrap(),
            "abc"
        );
    }
}
