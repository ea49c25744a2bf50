//! git-init's outputs in the catalog flavour: the termination message (`commit` and `url`,
//! byte for byte the catalog git-init's) and, when the pod has a results directory, the Task
//! result files (`commit`, `url`, `committer-date`) the catalog Task's shell script would
//! otherwise write with `printf`. Both flavours write the
//! message with the `termination` crate (see [`crate::flavour`]).

use std::path::Path;

use gocompat::files::Mode;
use termination::{RunResult, WriteError};

/// One entry of the message (`resourceName` when the pod names a resource).
pub fn entry(key: &str, value: &str, resource_name: &str) -> RunResult {
    RunResult {
        resource_name: resource_name.to_string(),
        ..RunResult::new(key, value, 0)
    }
}

/// The catalog's `termination.WriteMessage`: the termination crate's writer without `tknz:`,
/// with the catalog's own lower-case text above 4096 bytes.
pub fn write_termination_message(path: &Path, entries: &[RunResult]) -> Result<(), String> {
    termination::write_message(path, entries, false).map_err(|e| match e {
        WriteError::TooLarge => format!(
            "termination message is above max allowed size {}",
            termination::MAX_MESSAGE_SIZE
        ),
        e => e.to_string(),
    })
}

/// Writes `<dir>/<name>` whole (temporary file + rename), without a trailing newline.
pub fn write_result_file(dir: &Path, name: &str, value: &str) -> Result<(), String> {
    let target = dir.join(name);
    // Mode 0666 before the umask, as Go's os.WriteFile creates it.
    gocompat::files::write_whole(&target, value.as_bytes(), Mode::Umask(0o666), false)
        .map_err(|e| gocompat::fs::path_error(e.op, &target, &e.err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("termination");
        let e = [
            entry("commit", "abc", ""),
            entry("url", "https://x/<a>&\u{2028}\n", "src"),
        ];
        write_termination_message(&p, &e).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"key":"commit","value":"abc"},{"key":"url","value":"https://x/\u003ca\u003e\u0026\u2028\n","resourceName":"src"}]"#
        );
        std::fs::remove_file(&p).unwrap();
        write_termination_message(&p, &[entry("key1", "hello", "")]).unwrap();
        write_termination_message(&p, &[entry("key2", "world", "")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"key":"key1","value":"hello"},{"key":"key2","value":"world"}]"#
        );
        std::fs::write(&p, "not json at all, and long").unwrap();
        write_termination_message(&p, &[entry("k", "v", "")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            r#"[{"key":"k","value":"v"}]"#
        );
        let big = "x".repeat(4096);
        let err =
            write_termination_message(&dir.path().join("t2"), &[entry("k", &big, "")]).unwrap_err();
        assert_eq!(err, "termination message is above max allowed size 4096");
        write_result_file(dir.path(), "commit", "abc").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("commit")).unwrap(),
            "abc"
        );
    }
}
